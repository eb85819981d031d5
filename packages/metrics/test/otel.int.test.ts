import type { Connection } from '@cache/client'
import { codeOf } from '@cache/tools'
import {
  AggregationTemporality,
  DataPointType,
  type HistogramMetricData,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../src/index.js'
import { otelProducer, registerOtel } from '../src/otel.js'
import { sharedConnection } from './helpers.js'

const BOUNDS = [0.01, 0.1, 1]

async function collect(reader: PeriodicExportingMetricReader, exporter: InMemoryMetricExporter) {
  exporter.reset()
  await reader.forceFlush()
  const all = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((s) => s.metrics))
  return new Map<string, MetricData>(all.map((m) => [m.descriptor.name, m]))
}

describe.each(['standalone', 'cluster'] as const)('OpenTelemetry bridge on %s', (kind) => {
  let conn: Connection
  let writers: Metrics[]
  let reader: Metrics

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    writers = ['w1', 'w2'].map((id) => new Metrics(conn, { id, flushInterval: '1h' }))
    reader = new Metrics(conn, { id: 'reader', flushInterval: '1h' })
    writers.forEach((w, n) => {
      const hits = w.counter('cache_hits_total', { help: 'Hits', labels: ['tier'] })
      const lat = w.histogram('op_duration_seconds', { help: 'Op latency', buckets: BOUNDS })
      w.gauge('pool_size', { help: 'Pool size' }).set(10 * (n + 1))
      for (let i = 0; i < 50; i++) {
        hits.inc({ tier: i % 2 ? 'l1' : 'l2' })
        lat.observe(i % 5 === 0 ? 0.5 : 0.005)
      }
    })
    await Promise.all(writers.map((w) => w.flush()))
  })
  afterAll(async () => {
    await Promise.all([...writers, reader].map((w) => w.close()))
    await conn.close()
  })

  it('otelProducer: the SDK exports merged cumulative sums, gauges and explicit-bucket histograms', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const metricReader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: 3_600_000,
      metricProducers: [otelProducer(reader)],
    })
    const provider = new MeterProvider({ readers: [metricReader] })
    try {
      const got = await collect(metricReader, exporter)
      const hits = got.get('cache_hits_total')!
      expect(hits.dataPointType).toBe(DataPointType.SUM)
      expect(hits.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE)
      expect(hits.dataPointType === DataPointType.SUM && hits.isMonotonic).toBe(true)
      const byTier = Object.fromEntries(hits.dataPoints.map((p) => [p.attributes.tier, p.value]))
      expect(byTier).toEqual({ l1: 50, l2: 50 })
      const pool = got.get('pool_size')!
      expect(pool.dataPointType).toBe(DataPointType.GAUGE)
      expect(pool.dataPoints.map((p) => p.value)).toEqual([30])
      const lat = got.get('op_duration_seconds') as HistogramMetricData
      expect(lat.dataPointType).toBe(DataPointType.HISTOGRAM)
      expect(lat.descriptor.unit).toBe('s')
      expect(lat.descriptor.description).toBe('Op latency')
      const h = lat.dataPoints[0]!.value
      expect(h.buckets.boundaries).toEqual(BOUNDS)
      expect(h.buckets.counts).toEqual([80, 0, 20, 0])
      expect(h.count).toBe(100)
      expect(h.sum).toBeCloseTo(80 * 0.005 + 20 * 0.5, 9)
      // Cumulative: another flush adds up.
      writers[1]!.counter('cache_hits_total', { labels: ['tier'] }).inc(7, { tier: 'l1' })
      await writers[1]!.flush()
      const again = await collect(metricReader, exporter)
      const l1 = again.get('cache_hits_total')!.dataPoints.find((p) => p.attributes.tier === 'l1')
      expect(l1?.value).toBe(57)
    } finally {
      await provider.shutdown()
    }
  })

  it('registerOtel: observable counters and gauges on the user MeterProvider; typed errors', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const metricReader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const provider = new MeterProvider({ readers: [metricReader] })
    try {
      const reg = await registerOtel(reader, {
        meterProvider: provider,
        names: ['cache_hits_total', 'pool_size'],
      })
      const got = await collect(metricReader, exporter)
      const hits = got.get('cache_hits_total')!
      expect(hits.dataPointType).toBe(DataPointType.SUM)
      const total = hits.dataPoints.reduce((a, p) => a + (p.value as number), 0)
      expect(total).toBeGreaterThanOrEqual(100)
      expect(got.get('pool_size')?.dataPoints.map((p) => p.value)).toEqual([30])
      // New data is observed at the next collection; after close() it no longer is.
      writers[0]!.counter('cache_hits_total', { labels: ['tier'] }).inc(3, { tier: 'l2' })
      await writers[0]!.flush()
      const sum = (m: Map<string, MetricData>) =>
        m.get('cache_hits_total')!.dataPoints.reduce((a, p) => a + (p.value as number), 0)
      expect(sum(await collect(metricReader, exporter))).toBe(total + 3)
      reg.close()
      reg.close()
      writers[0]!.counter('cache_hits_total', { labels: ['tier'] }).inc(4, { tier: 'l2' })
      await writers[0]!.flush()
      const after = await collect(metricReader, exporter)
      expect(after.get('cache_hits_total') ? sum(after) : total + 3).toBe(total + 3)
      expect(await codeOf(registerOtel(reader, { meterProvider: {} as MeterProvider }))).toBe(
        'E_INVALID_ARGUMENT',
      )
      expect(() => otelProducer(reader, { staleAfter: 'soon' as '1s' })).toThrow(/staleAfter/)
    } finally {
      await provider.shutdown()
    }
  })
})
