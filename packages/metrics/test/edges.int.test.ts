import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Connection } from '@cache/client'
import { codeOf, codeOfSync, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AlertNotification, type AlertRule, Metrics } from '../src/index.js'
import { sharedConnection } from './helpers.js'

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0)
const MIN = 60_000

describe('edge cases of queries and alert delivery (standalone, injected clock)', () => {
  let conn: Connection
  let now = T0
  const clock = () => now
  let m: Metrics

  beforeAll(async () => {
    conn = await sharedConnection('standalone')
    m = new Metrics(conn, { id: 'edges', clock, flushInterval: '1h' })
  })
  afterAll(async () => {
    await m.close()
    await conn.close()
  })

  it('queries: no name, a zero step and too many points are E_INVALID_ARGUMENT', async () => {
    m.counter('edge_req_total').inc()
    await m.flush()
    const base = { name: 'edge_req_total', from: T0, to: T0 + MIN, step: '10s', fn: 'increase' } as const
    expect(await codeOf(Promise.resolve().then(() => m.query(undefined as never)))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => m.query({ ...base, name: 7 as never })))).toBe(
      'E_INVALID_ARGUMENT',
    )
    expect(await codeOf(m.query({ ...base, step: 0 }))).toBe('E_INVALID_ARGUMENT')
    // A year ahead at 10 s: more than 100000 points.
    expect(await codeOf(m.query({ ...base, to: T0 + 365 * 24 * 60 * MIN }))).toBe('E_INVALID_ARGUMENT')
    expect((await m.query(base)).points[0]).toEqual({ t: T0, value: 1 })
  })

  it('queries older than every retention read the coarsest resolution; steps round up to it', async () => {
    const c = m.counter('edge_old_total')
    now = T0 - 120 * 24 * 60 * MIN // 120 days ago: only the 1h resolution (90 days) ever held it, and it expired
    c.inc(3)
    now = T0 + 5_000
    c.inc(2)
    await m.flush()
    now = T0 + 30 * MIN
    const old = await m.query({
      name: 'edge_old_total',
      from: T0 - 100 * 24 * 60 * MIN,
      to: T0 + 60 * MIN,
      step: '15s',
      fn: 'increase',
    })
    expect(old.resolution).toBe(60 * MIN)
    expect(old.step).toBe(60 * MIN)
    expect(old.points.at(-1)).toEqual({ t: T0, value: 2 })
    expect(old.points.reduce((a, p) => a + (p.value ?? 0), 0)).toBe(2)
    // Within a day, a 15 s step is not a multiple of the 10 s resolution: it becomes 20 s.
    const recent = await m.query({ name: 'edge_old_total', from: T0, to: T0 + MIN, step: '15s', fn: 'sum' })
    expect(recent.resolution).toBe(10_000)
    expect(recent.step).toBe(20_000)
    expect(recent.points[0]).toEqual({ t: T0, value: 2 })
  })

  it('histograms without observations in a step: pNN and avg are null, sum and count 0', async () => {
    now = T0 + 40 * MIN
    const h = m.histogram('edge_wait_seconds', { labels: ['op'] })
    h.observe(0.25, { op: 'read' })
    await m.flush()
    const q = (fn: 'p99' | 'avg' | 'sum' | 'count', op: string) =>
      m
        .query({ name: 'edge_wait_seconds', labels: { op }, from: now, to: now + 10_000, step: '10s', fn })
        .then((r) => r.points[0]!.value)
    expect(await q('p99', 'write')).toBeNull()
    expect(await q('avg', 'write')).toBeNull()
    expect(await q('sum', 'write')).toBe(0)
    expect(await q('count', 'write')).toBe(0)
    expect(Math.abs((await q('p99', 'read'))! - 0.25) / 0.25).toBeLessThanOrEqual(0.01)
    expect(await q('avg', 'read')).toBe(0.25)
  })

  it('gauges filtered by label: only the matching series of each process count', async () => {
    now = T0 + 50 * MIN
    const other = new Metrics(conn, { id: 'edges-2', clock, flushInterval: '1h' })
    const g1 = m.gauge('edge_depth', { labels: ['queue'] })
    const g2 = other.gauge('edge_depth', { labels: ['queue'] })
    g1.set(4, { queue: 'mail' })
    g1.set(100, { queue: 'video' })
    g2.set(6, { queue: 'mail' })
    await Promise.all([m.flush(), other.flush()])
    await other.close()
    const q = (fn: 'sum' | 'min' | 'max' | 'avg', labels?: Record<string, string>) =>
      m
        .query({ name: 'edge_depth', labels, from: now, to: now + 10_000, step: '10s', fn })
        .then((r) => r.points[0]!.value)
    expect(await q('sum', { queue: 'mail' })).toBe(10)
    expect(await q('avg', { queue: 'mail' })).toBe(5)
    expect(await q('max', { queue: 'mail' })).toBe(6)
    expect(await q('min')).toBe(4)
    expect(await q('sum', { queue: 'none' })).toBeNull()
  })

  it('bad alert rules are E_INVALID_ARGUMENT naming the field; ratio sides may carry labels', async () => {
    const ok = { expr: { fn: 'rate', name: 'edge_req_total' }, above: 1 } as const
    const bad = (rules: unknown[]) => {
      try {
        m.alerts(rules as AlertRule[], { autoStart: false })
        return 'no error'
      } catch (err) {
        return `${(err as { code: string }).code} ${(err as { field: string }).field}`
      }
    }
    expect(
      bad([
        { name: 'twice', ...ok },
        { name: 'twice', ...ok },
      ]),
    ).toBe('E_INVALID_ARGUMENT rules[1].name')
    expect(bad([{ name: 'x', above: 1 }])).toBe('E_INVALID_ARGUMENT rules[0].expr')
    expect(bad([{ name: 'x', expr: { name: 'edge_req_total' }, above: 1 }])).toBe(
      'E_INVALID_ARGUMENT rules[0].expr',
    )
    expect(bad([{ name: 'x', expr: { fn: 'rate' }, above: 1 }])).toBe('E_INVALID_ARGUMENT rules[0].expr.name')
    expect(bad([{ name: 'x', expr: { fn: 'ratio', of: ['a_total', { labels: {} }] }, below: 1 }])).toBe(
      'E_INVALID_ARGUMENT rules[0].expr.of',
    )
    expect(bad([{ name: 'x', ...ok, above: 1, below: 2 }])).toBe('E_INVALID_ARGUMENT rules[0].above')
    expect(bad([{ name: 'x', ...ok, hysteresis: -1 }])).toBe('E_INVALID_ARGUMENT rules[0].hysteresis')
    expect(bad([{ name: 'x', ...ok, hysteresis: Number.POSITIVE_INFINITY }])).toBe(
      'E_INVALID_ARGUMENT rules[0].hysteresis',
    )
    expect(bad([{ name: 'x', ...ok, window: -5 }])).toBe('E_INVALID_ARGUMENT rules[0].window')
    expect(codeOfSync(() => m.alerts([{ name: 'x', ...ok }], { autoStart: false, interval: 'often' }))).toBe(
      'E_INVALID_ARGUMENT',
    )
    const a = m.alerts(
      [
        {
          name: 'hit-ratio',
          expr: {
            fn: 'ratio',
            of: [{ name: 'edge_hits_total', labels: { tier: 'l1' } }, 'edge_reads_total'],
          },
          below: 0.5,
          severity: 'page',
        },
      ],
      { autoStart: false },
    )
    expect(a.rules[0]).toMatchObject({
      op: 'below',
      threshold: 0.5,
      severity: 'page',
      forMs: 0,
      hysteresis: 0,
    })
    await a.close()
  })

  describe('webhook delivery failures', () => {
    let server: Server
    let url: string
    const answers: number[] = []
    let requests = 0

    beforeAll(async () => {
      server = createServer((req, res) => {
        req.resume()
        req.on('end', () => {
          requests++
          res.statusCode = answers.shift() ?? 200
          res.end()
        })
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    })
    afterAll(async () => {
      await new Promise((r) => server.close(r))
    })

    /** A rule on its own counter that fires at the first evaluation, delivered to `webhook`. */
    async function fire(name: string, webhook: { url: string; retries?: number }) {
      const counter = m.counter(`edge_${name.replaceAll('-', '_')}_total`)
      const alerts = m.alerts(
        [{ name, expr: { fn: 'increase', name: counter.definition.name }, above: 0, window: '1m' }],
        {
          notify: { channel: false, webhook: { ...webhook, timeout: '2s' } },
          interval: '1h',
          election: name,
        },
      )
      const errors: Error[] = []
      alerts.on('error', (err: Error) => errors.push(err))
      const fired: AlertNotification[] = []
      alerts.on('firing', (n: AlertNotification) => fired.push(n))
      expect(await alerts.waitForLeadership(20_000)).toBe(true)
      now = T0 + 70 * MIN
      counter.inc()
      await m.flush()
      now += 10_000
      await alerts.evaluate()
      await alerts.close()
      return { errors, fired }
    }

    it('a 4xx answer is not retried and is reported on error', async () => {
      requests = 0
      answers.push(400)
      const { errors, fired } = await fire('hook-400', { url, retries: 3 })
      expect(fired).toHaveLength(1)
      expect(requests).toBe(1)
      expect(errors.map((e) => e.message)).toEqual(['webhook answered 400'])
    })

    it('5xx and 429 are retried up to `retries`, then reported', async () => {
      requests = 0
      answers.push(503, 429)
      const { errors } = await fire('hook-5xx', { url, retries: 1 })
      expect(requests).toBe(2)
      expect(errors.map((e) => e.message)).toEqual(['webhook answered 429 after 2 attempts'])
      answers.length = 0
    })

    it('an unreachable webhook is retried, then reported; the firing event still went out', async () => {
      const probe = createServer()
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
      const closedPort = (probe.address() as AddressInfo).port
      await new Promise((r) => probe.close(r))
      const { errors, fired } = await fire('hook-down', {
        url: `http://127.0.0.1:${closedPort}/`,
        retries: 1,
      })
      expect(fired.map((n) => n.state)).toEqual(['firing'])
      expect(errors).toHaveLength(1)
      expect(errors[0]!.message).not.toMatch(/^webhook answered/)
    })
  })
})

describe('the real clock (no clock read per record)', () => {
  it('records on each side of a bucket boundary land in their own buckets', async () => {
    const conn = await sharedConnection('standalone')
    const m = new Metrics(conn, { id: 'real-clock', resolutions: { '1s': '1h' }, flushInterval: '1h' })
    try {
      const c = m.counter('edge_real_clock_total')
      // Start just after a boundary, so the first records are well inside their bucket.
      await waitFor('just past a second', () => Date.now() % 1000 < 200, { intervalMs: 5 })
      const first = Math.floor(Date.now() / 1000) * 1000
      c.inc(2)
      await waitFor('the next second', () => Date.now() >= first + 1_100, { intervalMs: 20 })
      c.inc(3)
      await m.flush()
      const r = await m.query({
        name: 'edge_real_clock_total',
        from: first,
        to: first + 3_000,
        step: '1s',
        fn: 'increase',
      })
      expect(r.points[0]).toEqual({ t: first, value: 2 })
      expect(r.points.slice(1).reduce((a, p) => a + (p.value ?? 0), 0)).toBe(3)
    } finally {
      await m.close()
      await conn.close()
    }
  })
})
