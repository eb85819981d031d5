import type { Connection } from '@cache/client'
import { codeOf } from '@cache/tools'
import * as prom from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../src/index.js'
import { prometheusCollector, prometheusText } from '../src/prometheus.js'
import { sharedConnection } from './helpers.js'

/** A Prometheus text-format reader: every sample line as { name, labels, value }, plus HELP and TYPE. */
function parseExposition(text: string) {
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
    if (meta) {
      ;(meta[1] === 'TYPE' ? types : help).set(meta[2]!, meta[3]!)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k!] = v!
    }
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]) })
  }
  return { types, help, samples }
}

const BOUNDS = [0.01, 0.05, 0.1, 0.5, 1]

describe.each(['standalone', 'cluster'] as const)('Prometheus export on %s', (kind) => {
  let conn: Connection
  let writers: Metrics[]
  let reader: Metrics
  /** The same observations made on one in-process prom-client registry: the reference output. */
  const reference = new prom.Registry()

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    writers = ['w1', 'w2', 'w3'].map((id) => new Metrics(conn, { id, flushInterval: '1h' }))
    reader = new Metrics(conn, { id: 'reader', flushInterval: '1h' })
    const refReqs = new prom.Counter({
      name: 'app_requests_total',
      help: 'Requests served',
      labelNames: ['route', 'status'],
      registers: [reference],
    })
    const refLat = new prom.Histogram({
      name: 'app_latency_seconds',
      help: 'Latency',
      labelNames: ['route'],
      buckets: BOUNDS,
      registers: [reference],
    })
    writers.forEach((w, n) => {
      const reqs = w.counter('app_requests_total', { help: 'Requests served', labels: ['route', 'status'] })
      const lat = w.histogram('app_latency_seconds', { help: 'Latency', labels: ['route'], buckets: BOUNDS })
      const depth = w.gauge('app_queue_depth', { help: 'Jobs waiting' })
      for (let i = 0; i < 100 * (n + 1); i++) {
        const labels = { route: i % 3 ? '/a' : '/b', status: i % 10 ? '200' : '500' }
        reqs.inc(labels)
        refReqs.inc(labels)
        const v = ((i * 37) % 1000) / 800
        lat.observe(v, { route: labels.route })
        refLat.observe({ route: labels.route }, v)
      }
      depth.set(n + 1)
    })
    await Promise.all(writers.map((w) => w.flush()))
  })
  afterAll(async () => {
    await Promise.all([...writers, reader].map((w) => w.close()))
    await conn.close()
  })

  it("prom-client's registry serves the fleet's merged metrics, equal to one registry that saw every sample", async () => {
    const registry = new prom.Registry()
    const collector = await prometheusCollector(reader, { registry })
    expect(await collector.refresh()).toEqual([
      'app_latency_seconds',
      'app_queue_depth',
      'app_requests_total',
    ])
    const text = await registry.metrics()
    const ours = parseExposition(text)
    const ref = parseExposition(await reference.metrics())
    const sortKey = (s: { name: string; labels: Record<string, string> }) =>
      `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`
    const pick = (p: typeof ours, name: string) =>
      p.samples
        .filter((s) => s.name.startsWith(name))
        .map((s) => ({ ...s, labels: Object.fromEntries(Object.entries(s.labels).sort()) }))
        .sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))
    expect(pick(ours, 'app_requests_total')).toEqual(pick(ref, 'app_requests_total'))
    expect(
      pick(ours, 'app_latency_seconds').map((s) => ({ ...s, value: Math.round(s.value * 1e9) / 1e9 })),
    ).toEqual(pick(ref, 'app_latency_seconds').map((s) => ({ ...s, value: Math.round(s.value * 1e9) / 1e9 })))
    // 600 requests in all, counted once although three processes wrote them.
    const total = ours.samples.filter((s) => s.name === 'app_requests_total').reduce((a, s) => a + s.value, 0)
    expect(total).toBe(600)
    expect(ours.types.get('app_requests_total')).toBe('counter')
    expect(ours.types.get('app_latency_seconds')).toBe('histogram')
    expect(ours.types.get('app_queue_depth')).toBe('gauge')
    expect(ours.help.get('app_requests_total')).toBe('Requests served')
    // The gauge is the sum of the three processes' last values.
    expect(ours.samples.find((s) => s.name === 'app_queue_depth')?.value).toBe(6)
    // Conventions: counters end in _total, histogram buckets are cumulative up to +Inf = _count.
    for (const s of ours.samples) {
      if (ours.types.get(s.name) === 'counter') expect(s.name).toMatch(/_total$/)
    }
    for (const route of ['/a', '/b']) {
      const buckets = ours.samples.filter(
        (s) => s.name === 'app_latency_seconds_bucket' && s.labels.route === route,
      )
      const values = buckets.map((b) => b.value)
      expect(values).toEqual([...values].sort((a, b) => a - b))
      expect(buckets.at(-1)?.labels.le).toBe('+Inf')
      const count = ours.samples.find(
        (s) => s.name === 'app_latency_seconds_count' && s.labels.route === route,
      )
      expect(buckets.at(-1)?.value).toBe(count?.value)
    }
    // Our own exposition carries the same samples as prom-client's.
    const plain = parseExposition(await prometheusText(reader))
    expect(plain.samples).toEqual(ours.samples)
    // A later flush is visible at the next scrape; close() unregisters.
    writers[0]!
      .counter('app_requests_total', { labels: ['route', 'status'] })
      .inc(5, { route: '/a', status: '200' })
    await writers[0]!.flush()
    await new Promise((r) => setTimeout(r, 300))
    const after = parseExposition(await registry.metrics())
    expect(
      after.samples.filter((s) => s.name === 'app_requests_total').reduce((a, s) => a + s.value, 0),
    ).toBe(605)
    collector.close()
    collector.close()
    expect(await registry.metrics()).toBe('\n')
  })

  it('log-layout histograms fold into le bounds; a stale process is left out of a gauge; bad options are typed', async () => {
    const w = writers[0]!
    const h = w.histogram('app_payload_bytes', { help: 'Payload size' })
    for (let i = 1; i <= 1000; i++) h.observe(i)
    await w.flush()
    const text = await prometheusText(reader, {
      names: ['app_payload_bytes', 'app_queue_depth'],
      buckets: [10, 100, 500],
    })
    const p = parseExposition(text)
    const buckets = p.samples
      .filter((s) => s.name === 'app_payload_bytes_bucket')
      .map((s) => [s.labels.le, s.value])
    // Within the log layout's 2% bucket width of the exact cumulative counts 10, 100, 500, 1000.
    expect(buckets.map((b) => b[0])).toEqual(['10', '100', '500', '+Inf'])
    expect(Math.abs((buckets[0]![1] as number) - 10)).toBeLessThanOrEqual(1)
    expect(Math.abs((buckets[1]![1] as number) - 100)).toBeLessThanOrEqual(2)
    expect(Math.abs((buckets[2]![1] as number) - 500)).toBeLessThanOrEqual(10)
    expect(buckets[3]![1]).toBe(1000)
    expect(p.samples.find((s) => s.name === 'app_payload_bytes_sum')?.value).toBe(500_500)
    const stale = parseExposition(await prometheusText(reader, { names: ['app_queue_depth'], staleAfter: 0 }))
    expect(stale.samples.find((s) => s.name === 'app_queue_depth')?.value).toBe(0)
    await expect(prometheusText(reader, { buckets: [1, 1] })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    expect(await codeOf(prometheusCollector(reader, { registry: {} as prom.Registry }))).toBe(
      'E_INVALID_ARGUMENT',
    )
    await expect(reader.snapshot({ names: ['bad name'] })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
  })
})
