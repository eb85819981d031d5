/**
 * @cache/metrics: counter inc and histogram observe against prom-client's in the same process (both are
 * in-process aggregation; ours is flushed to Redis later), RedisCache get with and without instrument()
 * at c=64, TieredCache L1 hits with and without it, and a 24 h query at 10 s step over 4 writers (p99 latency).
 */
import { connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { instrument, Metrics } from '@cache/metrics'
import { TieredCache } from '@cache/tiered'
import * as prom from 'prom-client'
import { defineSuite, type Measurement, measure, type RatioResult, ratio } from '../lib.js'

/** Increments per measured operation: one call is too cheap to time on its own. */
const BATCH = 1000
const ROUTES = ['/a', '/b', '/c', '/d']

export default defineSuite('metrics', async (ctx) => {
  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-metrics' })
  const metrics = new Metrics(conn, { id: 'bench', flushInterval: '5s' })
  const registry = new prom.Registry()

  // ---- counter inc and histogram observe vs prom-client, same process --------------------------------
  const ours = metrics.counter('bench_requests_total', { labels: ['route', 'status'] })
  const theirs = new prom.Counter({
    name: 'bench_requests_total',
    help: 'x',
    labelNames: ['route', 'status'],
    registers: [registry],
  })
  const ourHist = metrics.histogram('bench_latency_seconds', { labels: ['route'] })
  const theirHist = new prom.Histogram({
    name: 'bench_latency_seconds',
    help: 'x',
    labelNames: ['route'],
    registers: [registry],
  })
  const rounds = 3
  const perRound = { durationMs: 1500, warmupMs: 200, scale: ctx.scale }
  const runs: Record<string, Measurement[]> = {}
  const contenders: Array<[string, (w: number, i: number) => void]> = [
    [
      'counter inc: @cache/metrics',
      (_w, i) => {
        for (let j = 0; j < BATCH; j++) ours.inc({ route: ROUTES[j & 3]!, status: '200' })
        void i
      },
    ],
    [
      'counter inc: prom-client',
      () => {
        for (let j = 0; j < BATCH; j++) theirs.inc({ route: ROUTES[j & 3]!, status: '200' })
      },
    ],
    [
      'histogram observe: @cache/metrics (log buckets)',
      () => {
        for (let j = 0; j < BATCH; j++) ourHist.observe(0.001 * (1 + (j % 97)), { route: ROUTES[j & 3]! })
      },
    ],
    [
      'histogram observe: prom-client',
      () => {
        for (let j = 0; j < BATCH; j++) theirHist.observe({ route: ROUTES[j & 3]! }, 0.001 * (1 + (j % 97)))
      },
    ],
  ]
  for (let r = 0; r < rounds; r++) {
    for (const [name, op] of contenders) {
      runs[name] ??= []
      runs[name].push(await measure(name, op, perRound))
    }
  }
  const merged = (name: string): Measurement => {
    const ms = runs[name]!
    const best = [...ms].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(ms.length / 2)]!
    return { ...best, name: `${name} (×${BATCH} per op)`, extra: { callsPerSec: best.opsPerSec * BATCH } }
  }
  const [ci, cp, hi, hp] = contenders.map(([name]) => merged(name))
  measurements.push(ci!, cp!, hi!, hp!)
  ratios.push(ratio('counter inc vs prom-client, same process', ci!.opsPerSec, cp!.opsPerSec, 1))
  ratios.push(ratio('histogram observe vs prom-client, same process', hi!.opsPerSec, hp!.opsPerSec, 1))
  await metrics.flush()

  // ---- RedisCache get, instrumented vs not, c=64 -----------------------------------------------------
  const cache = new RedisCache<{ n: number }>(conn, { namespace: 'c', defaultTtl: '1h' })
  const KEYS = 1000
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`)
  await cache.mset(keys.map((key, n) => ({ key, value: { n } })))
  const get = (w: number, i: number) => cache.get(keys[(w * 7919 + i * 31) % KEYS]!)
  const plainRuns: Measurement[] = []
  const instrumentedRuns: Measurement[] = []
  for (let r = 0; r < rounds; r++) {
    plainRuns.push(
      await measure('RedisCache get c=64: uninstrumented', get, { ...perRound, concurrency: 64 }),
    )
    const stop = instrument(metrics, { packages: 'all' })
    instrumentedRuns.push(
      await measure('RedisCache get c=64: instrument(all)', get, { ...perRound, concurrency: 64 }),
    )
    stop()
  }
  const median = (ms: Measurement[]) =>
    [...ms].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(ms.length / 2)]!
  const plain = median(plainRuns)
  const instrumented = median(instrumentedRuns)
  measurements.push(plain, instrumented)
  ratios.push(
    ratio(
      'instrumented vs uninstrumented RedisCache get c=64',
      instrumented.opsPerSec,
      plain.opsPerSec,
      0.97,
    ),
  )
  await cache.close?.()

  // ---- TieredCache L1 hit get, instrumented vs not (every hit publishes cache:tiered:get) -------------
  const tiered = new TieredCache<{ n: number }>(conn, { namespace: 't', coherence: 'none', defaultTtl: '1h' })
  for (const key of keys) await tiered.set(key, { n: 1 })
  // Many L1 hits per measured operation: one Map lookup is too cheap to time on its own.
  const l1Get = async (w: number, i: number) => {
    for (let j = 0; j < BATCH; j++) await tiered.get(keys[(w * 7919 + (i * BATCH + j) * 31) % KEYS]!)
  }
  const l1Plain: Measurement[] = []
  const l1Instrumented: Measurement[] = []
  for (let r = 0; r < rounds; r++) {
    l1Plain.push(await measure('TieredCache L1 hit get: uninstrumented', l1Get, perRound))
    const stop = instrument(metrics, { packages: 'all' })
    l1Instrumented.push(await measure('TieredCache L1 hit get: instrument(all)', l1Get, perRound))
    stop()
  }
  const perGet = (m: Measurement): Measurement => ({ ...m, opsPerSec: m.opsPerSec * BATCH })
  const l1p = perGet(median(l1Plain))
  const l1i = perGet(median(l1Instrumented))
  measurements.push(l1p, l1i)
  ratios.push(
    ratio('instrumented vs uninstrumented TieredCache L1 hit get', l1i.opsPerSec, l1p.opsPerSec, 0.9),
  )
  await tiered.clear()
  await tiered.close()

  // ---- query of 24 h at 10 s step over 4 writers -----------------------------------------------------
  const DAY = 86_400_000
  const end = Math.floor(Date.now() / 10_000) * 10_000
  let now = end - DAY
  const clock = () => now
  const writers = Array.from(
    { length: 4 },
    (_, n) => new Metrics(conn, { namespace: 'q', id: `w${n}`, clock, flushInterval: '1h' }),
  )
  const step = ctx.scale < 1 ? 60_000 : 10_000 // --quick writes every minute of the day, not every 10 s
  for (const w of writers) {
    const c = w.counter('bench_query_total', { labels: ['route'] })
    for (now = end - DAY; now < end; now += step) c.inc({ route: ROUTES[(now / step) & 3]! })
    await w.flush()
  }
  now = end
  const reader = new Metrics(conn, { namespace: 'q', id: 'reader', clock, flushInterval: '1h' })
  const q = await measure(
    'query 24 h, step 10 s, 4 writers (8640 points)',
    () => reader.query({ name: 'bench_query_total', from: end - DAY, to: end, step: '10s', fn: 'increase' }),
    { durationMs: 4000, warmupMs: 500, scale: ctx.scale },
  )
  measurements.push(q)
  const check = await reader.query({
    name: 'bench_query_total',
    from: end - DAY,
    to: end,
    step: '10s',
    fn: 'increase',
  })
  const total = check.points.reduce((a, p) => a + (p.value ?? 0), 0)
  q.extra = { points: check.points.length, total }
  if (total !== (4 * DAY) / step) throw new Error(`query total ${total}, expected ${(4 * DAY) / step}`)

  await Promise.all([...writers, reader, metrics].map((m) => m.close()))
  await conn.close()
  return {
    suite: 'metrics',
    description:
      'counter/histogram vs prom-client in-process; RedisCache get with instrument() vs without at c=64; 24 h query at 10 s step over 4 writers',
    settings: { batch: BATCH, rounds },
    measurements,
    ratios,
  }
})
