import { isCacheError } from '@cache/client'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_TTL_MS, MIN_TTL_MS } from './defaults.js'
import { checkKey, parseTtl } from './ttl.js'

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

describe('parseTtl', () => {
  it('accepts every whole duration from 1s to 30d, as ms or with a unit', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(UNITS) as Array<keyof typeof UNITS>)),
        fc.nat(),
        (unit, n) => {
          const ms = n * UNITS[unit]
          if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
            expect(() => parseTtl(`${n}${unit}`)).toThrow(/"ttl" must be between 1s and 30d/)
          } else {
            expect(parseTtl(`${n}${unit}`)).toBe(ms)
            expect(parseTtl(ms)).toBe(ms)
          }
        },
      ),
    )
  })

  it('parses the documented examples', () => {
    expect(parseTtl('5m')).toBe(300_000)
    expect(parseTtl('2h')).toBe(7_200_000)
    expect(parseTtl('30d')).toBe(MAX_TTL_MS)
    expect(parseTtl(1000)).toBe(1000)
  })

  it('rejects out-of-range and malformed TTLs with E_INVALID_OPTION naming the field and value', () => {
    for (const bad of [999, '31d', 0, -5, Number.NaN, 'soon', '', '5 minutes']) {
      try {
        parseTtl(bad as never, 'defaultTtl')
        expect.unreachable(String(bad))
      } catch (err) {
        expect(isCacheError(err, 'E_INVALID_OPTION')).toBe(true)
        expect((err as Error).message).toContain('"defaultTtl"')
        expect((err as { field: string }).field).toBe('defaultTtl')
      }
    }
    expect(() => parseTtl('31d')).toThrow(/got "31d"/)
  })
})

describe('checkKey', () => {
  it('takes non-empty strings and names the field otherwise', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (k) => {
        expect(checkKey(k)).toBe(k)
      }),
    )
    expect(() => checkKey('')).toThrow(/option "key" must be a non-empty string/)
    expect(() => checkKey(5)).toThrow(/got number/)
  })
})
