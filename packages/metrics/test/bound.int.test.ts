import { uniquePrefix, waitFor } from '@cache/tools'
import { describe, expect, it } from 'vitest'
import { Metrics } from '../src/index.js'
import { sharedConnection } from './helpers.js'

describe('bound handles (counter.bind, histogram.bind)', () => {
  it('count into the bucket of their record on each side of a real boundary; release keeps what was counted', async () => {
    const conn = await sharedConnection('standalone')
    const m = new Metrics(conn, { id: 'bound', resolutions: { '1s': '1h' }, flushInterval: '1h' })
    try {
      const hits = m.counter('bound_hits_total', { labels: ['tier'] }).bind({ tier: 'l1' })
      const lat = m.histogram('bound_latency_seconds', { labels: ['tier'] }).bind({ tier: 'l1' })
      // Just past a second, and after that second's boundary timer has run: a poll timer due before it can
      // resolve first (its microtasks run before the next timer), and records made before a late boundary
      // timer runs go, by design, into the bucket that ended (CI saw the first two counted there).
      let first = 0
      for (;;) {
        await waitFor('just past a second', () => Date.now() % 1000 < 200, { intervalMs: 5 })
        first = Math.floor(Date.now() / 1000) * 1000
        await new Promise((resolve) => setTimeout(resolve, 30))
        if (Date.now() < first + 600) break
      }
      hits.inc(2)
      lat.observe(0.01)
      lat.observe(0.02)
      // The boundary timer drains the handles into the bucket that ended (no flush in between); the margin
      // leaves room for a late timer on a loaded machine.
      await waitFor('the next second', () => Date.now() >= first + 1_400, { intervalMs: 20 })
      hits.inc()
      hits.inc(4)
      lat.observe(0.5)
      hits.release()
      // After release a handle records through the unbound path: nothing is lost.
      hits.inc(10)
      await m.flush()
      const q = (name: string, fn: 'increase' | 'count' | 'max') =>
        m.query({ name, labels: { tier: 'l1' }, from: first, to: first + 3_000, step: '1s', fn })
      const counts = await q('bound_hits_total', 'increase')
      expect(counts.points[0]).toEqual({ t: first, value: 2 })
      expect(counts.points.slice(1).reduce((a, p) => a + (p.value ?? 0), 0)).toBe(15)
      const observed = await q('bound_latency_seconds', 'count')
      expect(observed.points[0]).toEqual({ t: first, value: 2 })
      expect(observed.points.slice(1).reduce((a, p) => a + (p.value ?? 0), 0)).toBe(1)
      const [snap] = await m.snapshot({ names: ['bound_latency_seconds'] })
      expect(snap!.series[0]!.sum).toBeCloseTo(0.53, 10)
      expect(() => hits.inc(-1)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }))
      expect(() => lat.observe(Number.NaN)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }))
    } finally {
      await m.close()
      await conn.close()
    }
  })

  it('reserve a series within maxSeries (beyond, they are dropped and counted); an injected clock records directly', async () => {
    const namespace = uniquePrefix('metrics')
    const conn = await sharedConnection('standalone', namespace)
    let now = 1_700_000_000_000
    const m = new Metrics(conn, { id: 'b', maxSeries: 1, flushInterval: '1h' })
    const injected = new Metrics(conn, { id: 'c', clock: () => now, flushInterval: '1h' })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      const c = m.counter('bound_limited_total', { labels: ['k'] })
      const a = c.bind({ k: 'a' })
      const b = c.bind({ k: 'b' })
      a.inc()
      b.inc(3)
      a.inc()
      await m.flush()
      const [snap] = await m.snapshot({ names: ['bound_limited_total', 'metrics_dropped_series_total'] })
      expect(snap!.series).toEqual([{ labels: { k: 'a' }, value: 2 }])
      const dropped = (await m.snapshot({ names: ['metrics_dropped_series_total'] }))[0]!
      expect(dropped.series).toEqual([{ labels: { metric: 'bound_limited_total' }, value: 1 }])
      expect(warnings.filter((w) => w.includes('"bound_limited_total" reached maxSeries'))).toHaveLength(1)

      const d = injected.counter('bound_injected_total').bind()
      d.inc()
      now += 60_000
      d.inc(2)
      await injected.flush()
      const r = await injected.query({
        name: 'bound_injected_total',
        from: now - 60_000,
        to: now + 10_000,
        step: '10s',
        fn: 'increase',
      })
      expect(r.points[0]!.value).toBe(1)
      expect(r.points.at(-1)!.value).toBe(2)

      // A bound histogram with an injected clock, released halfway; and startTimer on the plain path.
      const h = injected.histogram('bound_injected_seconds', { labels: ['op'] })
      const bh = h.bind({ op: 'get' })
      bh.observe(0.25)
      bh.release()
      bh.observe(0.5)
      const seconds = h.startTimer({ op: 'get' })()
      await injected.flush()
      const [hs] = await injected.snapshot({ names: ['bound_injected_seconds'] })
      expect(hs!.series).toHaveLength(1)
      expect(hs!.series[0]!.count).toBe(3)
      expect(hs!.series[0]!.sum).toBeCloseTo(0.75 + seconds, 9)
    } finally {
      process.off('warning', onWarning)
      await Promise.all([m.close(), injected.close()])
      await conn.close()
    }
  })
})
