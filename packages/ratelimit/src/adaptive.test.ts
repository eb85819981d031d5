import { describe, expect, it } from 'vitest'
import { eventLoopLoad } from './adaptive.js'
import { effectiveRule, stableHash } from './binding.js'

describe('adaptive and variants', () => {
  it('eventLoopLoad reports a load between 0 and 1 and can be stopped', () => {
    const signal = eventLoopLoad({ idleMs: 0, overloadMs: 1 })
    const load = signal.load()
    expect(load).toBeGreaterThanOrEqual(0)
    expect(load).toBeLessThanOrEqual(1)
    expect(signal.load()).toBe(load) // cached within a second
    signal.stop()
  })

  it('scales limit and burst by the load, never below 1, and ignores a throwing signal', () => {
    const rule = {
      name: 'r',
      params: { algorithm: 'token-bucket' as const, limit: 10, windowMs: 1000, burst: 20 },
      penaltyMs: 0,
      variants: [],
    }
    const at = (load: () => number, minScale = 0.5) =>
      effectiveRule({ rule, adaptive: { load, minScale } }, 'k')
    expect(at(() => 0).params).toMatchObject({ limit: 10, burst: 20 })
    expect(at(() => 1).params).toMatchObject({ limit: 5, burst: 10 })
    expect(at(() => 5).params).toMatchObject({ limit: 5, burst: 10 })
    expect(at(() => 1, 0.01).params).toMatchObject({ limit: 1, burst: 1 })
    expect(at(() => 1).capacity).toBe(20)
    expect(
      at(() => {
        throw new Error('probe failed')
      }).params.limit,
    ).toBe(10)
  })

  it('stableHash is stable and spreads keys', () => {
    expect(stableHash('abc')).toBe(stableHash('abc'))
    const buckets = new Set(Array.from({ length: 100 }, (_, i) => stableHash(`k${i}`) % 4))
    expect(buckets.size).toBe(4)
  })
})
