import { describe, expect, it } from 'vitest'
import { RateMeter } from './rate-meter.js'

describe('RateMeter', () => {
  it('counts events per second over its window and forgets older buckets', () => {
    let now = 1_000_000
    const m = new RateMeter(10, () => now)
    m.record(5)
    now += 1000
    m.record(5)
    now += 1000
    expect(m.rate()).toBeCloseTo(10 / 2, 5)
    expect(m.total).toBe(10)
    now += 10_000
    expect(m.rate()).toBe(0)
    m.record()
    expect(m.rate()).toBeCloseTo(1 / 10, 5)
    expect(m.total).toBe(11)
  })

  it('reuses a bucket slot once its second has passed', () => {
    let now = 0
    const m = new RateMeter(2, () => now)
    m.record(3)
    now = 2000 // same slot (2 % 2 = 0), a new second
    m.record(1)
    expect(m.rate()).toBeCloseTo(1 / 2, 5)
  })
})
