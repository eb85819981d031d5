import { describe, expect, it } from 'vitest'
import { LOG_RELATIVE_ERROR } from './defaults.js'
import { fixedLayout, LOG_LAYOUT, quantile, ZERO_BUCKET } from './sketch.js'

describe('log layout', () => {
  it('every value is within 1% of its bucket estimate, across 12 decades', () => {
    for (let e = -9; e <= 3; e += 0.0137) {
      const v = 10 ** e
      const est = LOG_LAYOUT.value(LOG_LAYOUT.index(v))
      expect(Math.abs(est - v) / v).toBeLessThanOrEqual(LOG_RELATIVE_ERROR + 1e-12)
      expect(LOG_LAYOUT.upper(LOG_LAYOUT.index(v))).toBeGreaterThanOrEqual(v * (1 - 1e-12))
    }
  })
  it('zero, negatives and NaN go to the zero bucket, reported as 0', () => {
    for (const v of [0, -1, Number.NaN, 1e-12]) expect(LOG_LAYOUT.index(v)).toBe(ZERO_BUCKET)
    expect(LOG_LAYOUT.value(ZERO_BUCKET)).toBe(0)
    expect(LOG_LAYOUT.upper(ZERO_BUCKET)).toBeGreaterThan(0)
  })
})

describe('fixed layout', () => {
  const layout = fixedLayout([0.1, 0.5, 1])
  it('maps values to the first bound ≥ value, and beyond the last to the overflow bucket', () => {
    expect([0, 0.1, 0.2, 0.5, 0.99, 1, 7].map((v) => layout.index(v))).toEqual([0, 0, 1, 1, 2, 2, 3])
    expect(layout.upper(3)).toBe(Number.POSITIVE_INFINITY)
    expect(layout.value(3)).toBe(1)
    expect(layout.value(1)).toBe(0.5)
  })
})

describe('quantile of merged buckets', () => {
  it('is NaN when empty and picks the bucket of rank ⌊q(n−1)⌋', () => {
    expect(quantile(LOG_LAYOUT, new Map(), 0.5)).toBeNaN()
    const layout = fixedLayout([1, 2, 3])
    const counts = new Map([
      [2, 1],
      [0, 98],
      [1, 1],
    ])
    expect(quantile(layout, counts, 0.5)).toBe(1)
    expect(quantile(layout, counts, 0.99)).toBe(2)
    expect(quantile(layout, counts, 1)).toBe(3)
  })
  it('merging two processes equals the sketch of the union (never an average of quantiles)', () => {
    const a = [0.001, 0.002, 0.003, 5]
    const b = [1, 2, 3, 4, 100]
    const merged = new Map<number, number>()
    for (const v of [...a, ...b]) merged.set(LOG_LAYOUT.index(v), (merged.get(LOG_LAYOUT.index(v)) ?? 0) + 1)
    const exact = [...a, ...b].sort((x, y) => x - y)[Math.floor(0.5 * 8)]!
    expect(Math.abs(quantile(LOG_LAYOUT, merged, 0.5) - exact) / exact).toBeLessThanOrEqual(
      LOG_RELATIVE_ERROR,
    )
  })
})
