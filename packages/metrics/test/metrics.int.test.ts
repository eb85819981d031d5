import diagnostics from 'node:diagnostics_channel'
import type { Connection } from '@cache/client'
import { codeOf } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../src/index.js'
import { sharedConnection } from './helpers.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)

describe.each(['standalone', 'cluster'] as const)('Metrics on %s (injected clock)', (kind) => {
  let conn: Connection
  let now = T0
  const clock = () => now
  const make = (id: string, extra = {}) => new Metrics(conn, { id, clock, flushInterval: '1h', ...extra })
  let a: Metrics
  let b: Metrics

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    a = make('a')
    b = make('b')
  })
  afterAll(async () => {
    await a.close()
    await b.close()
    await conn.close()
  })

  it('counters: increase and rate per step, across two writers, downsampled into the 1m resolution', async () => {
    const ca = a.counter('req_total', { labels: ['route'] })
    const cb = b.counter('req_total', { labels: ['route'] })
    now = T0
    ca.inc({ route: '/a' })
    cb.inc(2, { route: '/a' })
    now = T0 + 10_000
    ca.inc(0.5, { route: '/b' })
    now = T0 + 25_000
    cb.inc(4, { route: '/b' })
    await Promise.all([a.flush(), b.flush()])
    now = T0 + 60_000
    const inc = await a.query({ name: 'req_total', from: T0, to: T0 + 30_000, step: '10s', fn: 'increase' })
    expect(inc.resolution).toBe(10_000)
    expect(inc.points).toEqual([
      { t: T0, value: 3 },
      { t: T0 + 10_000, value: 0.5 },
      { t: T0 + 20_000, value: 4 },
    ])
    const rate = await a.query({
      name: 'req_total',
      labels: { route: '/b' },
      from: T0,
      to: T0 + 60_000,
      step: '1m',
      fn: 'rate',
    })
    expect(rate.resolution).toBe(60_000)
    expect(rate.points).toEqual([{ t: T0, value: 4.5 / 60 }])
    // A process that never defined the metric reads its definition from Redis.
    const c = make('c')
    const sum = await c.query({ name: 'req_total', from: T0, to: T0 + 60_000, step: '1m', fn: 'sum' })
    expect(sum.points[0]!.value).toBe(7.5)
    await c.close()
  })

  it('gauges: the last value of each process, summed, averaged and bounded; collect() runs on flush', async () => {
    now = T0
    let depth = 7
    a.gauge('queue_depth', { collect: () => depth })
    b.gauge('queue_depth', { collect: async () => [{ value: 3 }] })
    await Promise.all([a.flush(), b.flush()])
    depth = 9
    await a.flush()
    const q = (fn: 'sum' | 'avg' | 'min' | 'max') =>
      a.query({ name: 'queue_depth', from: T0, to: T0 + 10_000, step: '10s', fn })
    expect((await q('sum')).points[0]!.value).toBe(12)
    expect((await q('avg')).points[0]!.value).toBe(6)
    expect((await q('min')).points[0]!.value).toBe(3)
    expect((await q('max')).points[0]!.value).toBe(9)
    const empty = await a.query({
      name: 'queue_depth',
      from: T0 + 3_600_000,
      to: T0 + 3_610_000,
      step: '10s',
      fn: 'sum',
    })
    expect(empty.points).toEqual([{ t: T0 + 3_600_000, value: null }])
  })

  it('uniques: HyperLogLog per bucket, counted over any range with PFCOUNT of several buckets', async () => {
    const ua = a.uniques('active_users')
    const ub = b.uniques('active_users')
    now = T0
    for (let i = 0; i < 300; i++) ua.add(`u${i}`)
    now = T0 + 10_000
    for (let i = 200; i < 500; i++) ub.add(`u${i}`)
    await Promise.all([a.flush(), b.flush()])
    const per = await a.query({ name: 'active_users', from: T0, to: T0 + 20_000, step: '10s', fn: 'count' })
    // HyperLogLog: ~0.81% standard error.
    for (const p of per.points) expect(Math.abs(p.value! - 300)).toBeLessThanOrEqual(6)
    const whole = await a.query({ name: 'active_users', from: T0, to: T0 + 20_000, step: '20s', fn: 'count' })
    expect(Math.abs(whole.points[0]!.value! - 500)).toBeLessThanOrEqual(10)
  })

  it('uniques per label set (active users per tenant): counted per tenant, merged across tenants and processes', async () => {
    const ua = a.uniques('tenant_active_users', { labels: ['tenant'] })
    const ub = b.uniques('tenant_active_users', { labels: ['tenant'] })
    now = T0
    // Tenant t1: users 0-99 in a, 50-149 in b (150 distinct); t2: 40 users in b, 10 of them ids also used in t1.
    for (let i = 0; i < 100; i++) ua.add(`u${i}`, { tenant: 't1' })
    for (let i = 50; i < 150; i++) ub.add(`u${i}`, { tenant: 't1' })
    for (let i = 140; i < 180; i++) ub.add(`u${i}`, { tenant: 't2' })
    await Promise.all([a.flush(), b.flush()])
    const q = (labels?: Record<string, string>, name = 'tenant_active_users') =>
      a
        .query({ name, labels, from: T0, to: T0 + 10_000, step: '10s', fn: 'count' })
        .then((r) => r.points[0]!.value!)
    expect(Math.abs((await q({ tenant: 't1' })) - 150)).toBeLessThanOrEqual(4)
    expect(Math.abs((await q({ tenant: 't2' })) - 40)).toBeLessThanOrEqual(2)
    // Without a filter: the union over tenants (u140-u149 counted once).
    expect(Math.abs((await q()) - 180)).toBeLessThanOrEqual(5)
    expect(await q({ tenant: 'nobody' })).toBe(0)
    // A process that never defined it reads the label sets from Redis.
    const c = make('c-uniques')
    expect(
      Math.abs(
        (
          await c.query({
            name: 'tenant_active_users',
            labels: { tenant: 't2' },
            from: T0,
            to: T0 + 10_000,
            step: '10s',
            fn: 'count',
          })
        ).points[0]!.value! - 40,
      ),
    ).toBeLessThanOrEqual(2)
    await c.close()
    expect(await codeOf(q({ plan: 'pro' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => ua.add('u1', { plan: 'pro' })))).toBe(
      'E_INVALID_ARGUMENT',
    )
    // The user ids are in no key and no field name: only inside the HyperLogLogs.
    const total = a.keys.tagged('tenant_active_users', 'total')
    const fields = (await conn.send<string[]>(['HKEYS', total], { key: total })).map(String)
    expect(fields.filter((f) => !f.startsWith('#')).sort()).toEqual(['["t1"]', '["t2"]'])
  })

  it('histograms with fixed buckets: quantiles, mean, count', async () => {
    now = T0
    const h = a.histogram('job_duration_seconds', { buckets: [0.1, 1, 10] })
    for (const v of [0.05, 0.05, 0.5, 5, 50]) h.observe(v)
    await a.flush()
    const q = (fn: 'p50' | 'p99' | 'avg' | 'count' | 'sum') =>
      a
        .query({ name: 'job_duration_seconds', from: T0, to: T0 + 10_000, step: '10s', fn })
        .then((r) => r.points[0]!.value)
    expect(await q('p50')).toBe(1)
    expect(await q('p99')).toBe(10)
    expect(await q('count')).toBe(5)
    expect(await q('avg')).toBeCloseTo(55.6 / 5)
    expect(await q('sum')).toBeCloseTo(55.6)
    expect(await codeOf(Promise.resolve().then(() => a.histogram('x_seconds', { buckets: [2, 1] })))).toBe(
      'E_INVALID_ARGUMENT',
    )
  })

  it('maxSeries: overflow is dropped, counted in metrics_dropped_series_total and warned once', async () => {
    now = T0
    const m = make('d', { maxSeries: 2 })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    const c = m.counter('hits_total', { labels: ['tier'] })
    for (const tier of ['l1', 'l2', 'l3', 'l4', 'l3']) c.inc({ tier })
    await m.flush()
    await new Promise((r) => setImmediate(r))
    process.off('warning', onWarning)
    expect(warnings.filter((w) => w.includes('maxSeries'))).toHaveLength(1)
    const q = (name: string) =>
      m
        .query({ name, from: T0, to: T0 + 10_000, step: '10s', fn: 'increase' })
        .then((r) => r.points[0]!.value)
    expect(await q('hits_total')).toBe(2)
    expect(await q('metrics_dropped_series_total')).toBe(3)
    await m.close()
  })

  it('bad definitions, labels and queries are E_INVALID_ARGUMENT; a flush publishes cache:metrics:flush', async () => {
    expect(await codeOf(Promise.resolve().then(() => a.counter('requests')))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => a.gauge('req_total')))).toBe('E_INVALID_ARGUMENT')
    const c = a.counter('ok_total', { labels: ['x'] })
    expect(a.counter('ok_total', { labels: ['x'] })).toBe(c)
    expect(await codeOf(Promise.resolve().then(() => a.counter('ok_total', { labels: ['y'] })))).toBe(
      'E_INVALID_ARGUMENT',
    )
    expect(await codeOf(Promise.resolve().then(() => c.inc({ nope: 1 })))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => c.inc(-1)))).toBe('E_INVALID_ARGUMENT')
    const base = { name: 'ok_total', from: T0, to: T0 + 10_000, step: '10s', fn: 'sum' } as const
    expect(await codeOf(a.query({ ...base, fn: 'p99' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(a.query({ ...base, to: T0 }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(a.query({ ...base, step: 'soon' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(a.query({ ...base, labels: { y: '1' } }))).toBe('E_INVALID_ARGUMENT')
    expect((await a.query({ ...base, name: 'never_defined' })).points).toEqual([])
    const events: unknown[] = []
    const listener = (e: unknown) => events.push(e)
    diagnostics.subscribe('cache:metrics:flush', listener)
    c.inc({ x: 1 })
    await a.flush()
    diagnostics.unsubscribe('cache:metrics:flush', listener)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ pending: 0, lostBatches: 0 })
    expect((events[0] as { applied: number }).applied).toBeGreaterThanOrEqual(1)
  })

  it('close() flushes what is left, is idempotent, and later definitions fail with E_CLOSED', async () => {
    now = T0 + 7_200_000
    const m = make('e')
    const closing = m.counter('closing_total')
    closing.inc(3)
    await Promise.all([m.close(), m.close()])
    await m[Symbol.asyncDispose]()
    // After close, increments are ignored (never a Redis call, never a throw in the caller's hot path).
    closing.inc(1)
    const r = await a.query({
      name: 'closing_total',
      from: now,
      to: now + 10_000,
      step: '10s',
      fn: 'increase',
    })
    expect(r.points[0]!.value).toBe(3)
    expect(await codeOf(Promise.resolve().then(() => m.counter('late_total')))).toBe('E_CLOSED')
  })
})
