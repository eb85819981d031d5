import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { formatDuration, parseDuration, zDuration } from './duration.js'
import { isCacheError } from './errors.js'
import { parseOptions } from './validate.js'

describe('parseDuration', () => {
  it.each([
    [250, 250],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['30d', 2_592_000_000],
    [' 3 s ', 3000],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each([['5 minutes'], ['-1s'], [''], ['1y'], [Number.NaN], [-5], [Number.POSITIVE_INFINITY]])(
    'rejects %j',
    (input) => {
      try {
        parseDuration(input as never, { field: 'ttl', pkg: '@cache/core' })
        expect.unreachable()
      } catch (err) {
        expect(isCacheError(err, 'E_INVALID_OPTION')).toBe(true)
        expect((err as Error).message).toMatch(/^\[@cache\/core\] option "ttl" must/)
      }
    },
  )

  it('enforces min and max, naming the value', () => {
    expect(() => parseDuration('0.5s', { field: 'ttl', min: 1000, max: 30 * 86_400_000 })).toThrow(
      /option "ttl" must be between 1s and 30d, got "0.5s"/,
    )
    expect(() => parseDuration('31d', { field: 'ttl', min: 1000, max: 30 * 86_400_000 })).toThrow(/got "31d"/)
  })

  it('round-trips formatted durations (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), (ms) => {
        const text = formatDuration(ms)
        // formatDuration rounds to 3 decimals of its unit; parsing must land within that rounding.
        const back = parseDuration(text)
        expect(Math.abs(back - ms)).toBeLessThanOrEqual(Math.max(1, ms * 0.0005))
      }),
    )
  })

  it('parses number-unit strings exactly (property)', () => {
    const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(...Object.keys(units)), (n, unit) => {
        expect(parseDuration(`${n}${unit}`)).toBe(n * units[unit as keyof typeof units])
      }),
    )
  })
})

describe('zDuration inside parseOptions', () => {
  const schema = z.object({ ttl: zDuration({ min: 1000, max: 60_000 }).default(5000) }).strict()

  it('outputs milliseconds and applies defaults', () => {
    expect(parseOptions('@cache/x', schema, { ttl: '2s' })).toEqual({ ttl: 2000 })
    expect(parseOptions('@cache/x', schema, undefined)).toEqual({ ttl: 5000 })
  })

  it('names the field and the reason', () => {
    expect(() => parseOptions('@cache/x', schema, { ttl: '2h' })).toThrow(
      /\[@cache\/x\] option "ttl" must be between 1s and 1m/,
    )
    expect(() => parseOptions('@cache/x', schema, { ttl: true })).toThrow(/option "ttl"/)
    expect(() => parseOptions('@cache/x', schema, { tll: 1 })).toThrow(/option "tll" is not a known option/)
  })

  it('freezes the result', () => {
    expect(Object.isFrozen(parseOptions('@cache/x', schema, {}))).toBe(true)
  })
})
