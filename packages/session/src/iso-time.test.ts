import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isoTime } from './iso-time.js'

describe('isoTime', () => {
  it('gives what toISOString gives, for times in any order (the kept second reused or not)', () => {
    const near = fc.integer({ min: 1_765_000_000_000, max: 1_765_000_010_000 })
    const any = fc.oneof(
      near,
      fc.integer({ min: -62_198_755_200_000, max: 8_640_000_000_000_000 }),
      fc.constantFrom(0, 999, 1000, 253_402_300_799_999, 253_402_300_800_000, -1, 0.5, 1_765_000_000_000.25),
    )
    fc.assert(
      fc.property(fc.array(any, { minLength: 1, maxLength: 50 }), (ts) => {
        for (const t of ts) expect(isoTime(t)).toBe(new Date(t).toISOString())
      }),
    )
  })

  it('throws the RangeError of toISOString for an invalid time', () => {
    for (const t of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1])
      expect(() => isoTime(t)).toThrow(RangeError)
  })
})
