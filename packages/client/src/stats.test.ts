import { describe, expect, it } from 'vitest'
import { hgetallRecord } from './reply.js'
import { DEFAULT_LATENCY_SAMPLES, LatencyRing } from './stats.js'

describe('LatencyRing', () => {
  it('is all zeros when empty', () => {
    expect(new LatencyRing().summary()).toEqual({ p50: 0, p99: 0, samples: 0 })
    expect(new LatencyRing().size).toBe(DEFAULT_LATENCY_SAMPLES)
  })

  it('gives p50/p99 over the latest samples and counts every sample', () => {
    const ring = new LatencyRing(100)
    for (let i = 1; i <= 100; i++) ring.record(i)
    expect(ring.summary()).toEqual({ p50: 51, p99: 100, samples: 100 })
    for (let i = 0; i < 100; i++) ring.record(1_000)
    expect(ring.summary()).toEqual({ p50: 1_000, p99: 1_000, samples: 200 })
  })

  it('since() records the time elapsed from a performance.now() reading', () => {
    const ring = new LatencyRing(4)
    ring.since(performance.now() - 50)
    expect(ring.summary().p50).toBeGreaterThanOrEqual(50)
  })
})

describe('hgetallRecord', () => {
  it('reads a RESP2 flat array, a RESP3 map object and a Map', () => {
    expect(hgetallRecord(['a', '1', 'b', '2'])).toEqual({ a: '1', b: '2' })
    expect(hgetallRecord({ a: '1', b: '2' })).toEqual({ a: '1', b: '2' })
    expect(hgetallRecord(new Map([['a', '1']]))).toEqual({ a: '1' })
    const buf = Buffer.from('v')
    expect(hgetallRecord<Buffer>([Buffer.from('f'), buf])).toEqual({ f: buf })
  })

  it('gives {} for an empty or missing hash and ignores a dangling field', () => {
    expect(hgetallRecord([])).toEqual({})
    expect(hgetallRecord({})).toEqual({})
    expect(hgetallRecord(null)).toEqual({})
    expect(hgetallRecord(undefined)).toEqual({})
    expect(hgetallRecord(['a'])).toEqual({})
    expect(hgetallRecord(3)).toEqual({})
  })
})
