import { InvalidArgumentError, parseDuration } from '@cache/client'
import {
  type Attributes,
  type BatchObservableResult,
  type HrTime,
  type MeterProvider,
  type Observable,
  ValueType,
} from '@opentelemetry/api'
import type { Resource } from '@opentelemetry/resources'
import type {
  AggregationTemporality,
  CollectionResult,
  DataPointType,
  MetricData,
  MetricProducer,
} from '@opentelemetry/sdk-metrics'
import { DEFAULT_EXPORT_BUCKETS, DEFAULT_GAUGE_STALE_MS } from './defaults.js'
import type { Metrics } from './metrics.js'
import type { PrometheusOptions } from './prometheus.js'
import { foldBuckets, type MetricSnapshot } from './snapshot.js'

const PKG = '@cache/metrics'
/** The instrumentation scope of everything this bridge reports. */
export const OTEL_SCOPE = { name: '@cache/metrics', version: '0.1.0' } as const

// The SDK's enums by value, so this module needs @opentelemetry/sdk-metrics for its types only.
const CUMULATIVE = 1 as AggregationTemporality.CUMULATIVE
const HISTOGRAM = 0 as DataPointType.HISTOGRAM
const GAUGE = 2 as DataPointType.GAUGE
const SUM = 3 as DataPointType.SUM

/** Options of the OpenTelemetry bridge (the same as the Prometheus export's). */
export type OtelOptions = PrometheusOptions

function staleMs(options: OtelOptions): number {
  if (options.staleAfter === undefined) return DEFAULT_GAUGE_STALE_MS
  try {
    return parseDuration(options.staleAfter)
  } catch {
    throw new InvalidArgumentError(PKG, 'staleAfter', `must be a duration, got ${String(options.staleAfter)}`)
  }
}

/** The unit of a metric from its Prometheus base-unit suffix (UCUM, as OpenTelemetry wants). */
export function unitOf(name: string): string {
  if (/_seconds(_|$)/.test(name)) return 's'
  if (/_bytes(_|$)/.test(name)) return 'By'
  if (/_ratio$/.test(name)) return '1'
  return ''
}

const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000]

/** One snapshot as OpenTelemetry metric data: cumulative monotonic sums, gauges, explicit-bucket histograms. */
function toMetricData(m: MetricSnapshot, start: HrTime, end: HrTime, buckets: readonly number[]): MetricData {
  const descriptor = { name: m.name, description: m.help, unit: unitOf(m.name), valueType: ValueType.DOUBLE }
  const point = <T>(attributes: Attributes, value: T) => ({
    startTime: start,
    endTime: end,
    attributes,
    value,
  })
  if (m.kind === 'counter') {
    return {
      descriptor,
      aggregationTemporality: CUMULATIVE,
      dataPointType: SUM,
      isMonotonic: true,
      dataPoints: m.series.map((s) => point(s.labels, s.value)),
    }
  }
  if (m.kind === 'gauge') {
    return {
      descriptor,
      aggregationTemporality: CUMULATIVE,
      dataPointType: GAUGE,
      dataPoints: m.series.map((s) => point(s.labels, s.value)),
    }
  }
  const bounds = [...(m.bounds ?? buckets)]
  return {
    descriptor,
    aggregationTemporality: CUMULATIVE,
    dataPointType: HISTOGRAM,
    dataPoints: m.series.map((s) =>
      point(s.labels, {
        buckets: { boundaries: bounds, counts: foldBuckets(s.buckets ?? [], bounds) },
        sum: s.sum ?? 0,
        count: s.count ?? 0,
      }),
    ),
  }
}

/**
 * An OpenTelemetry `MetricProducer` that reports the metrics stored in Redis, merged over every process:
 * counters as cumulative monotonic sums, gauges, and histograms with explicit buckets (log-layout histograms
 * folded into `buckets`). Give it to a reader: `new PeriodicExportingMetricReader({ exporter, metricProducers: [otelProducer(metrics)] })`.
 */
export function otelProducer(
  metrics: Metrics,
  options: OtelOptions & { resource?: Resource } = {},
): MetricProducer {
  const stale = staleMs(options)
  const buckets = options.buckets ?? DEFAULT_EXPORT_BUCKETS
  const start = hrTime(Date.now())
  // A MetricReader keeps its MeterProvider's Resource and only takes the scope metrics of a producer.
  const resource = options.resource ?? ({ attributes: {} } as unknown as Resource)
  return {
    async collect(): Promise<CollectionResult> {
      try {
        const snapshots = await metrics.snapshot({
          ...(options.names ? { names: options.names } : {}),
          staleAfterMs: stale,
        })
        const end = hrTime(Date.now())
        return {
          resourceMetrics: {
            resource,
            scopeMetrics: [
              { scope: OTEL_SCOPE, metrics: snapshots.map((m) => toMetricData(m, start, end, buckets)) },
            ],
          },
          errors: [],
        }
      } catch (err) {
        return { resourceMetrics: { resource, scopeMetrics: [] }, errors: [err] }
      }
    },
  }
}

/** What `registerOtel()` returns. */
export interface OtelRegistration {
  /** Removes the batch callback: the instruments stop reporting. Idempotent. */
  close(): void
}

/**
 * Creates observable instruments on the user's `MeterProvider` for the stored counters (ObservableCounter)
 * and gauges (ObservableGauge), observed from Redis at each collection and merged over every process.
 * Metrics stored later get instruments at the next collection. Histograms have no observable instrument in
 * the OpenTelemetry API: report them with `otelProducer()`.
 */
export async function registerOtel(
  metrics: Metrics,
  options: OtelOptions & { meterProvider: MeterProvider },
): Promise<OtelRegistration> {
  const { meterProvider, ...rest } = options ?? ({} as typeof options)
  if (!meterProvider || typeof meterProvider.getMeter !== 'function') {
    throw new InvalidArgumentError(PKG, 'meterProvider', 'must be an OpenTelemetry MeterProvider')
  }
  const stale = staleMs(rest)
  const meter = meterProvider.getMeter(OTEL_SCOPE.name, OTEL_SCOPE.version)
  const instruments = new Map<string, Observable>()
  let closed = false
  const read = () => metrics.snapshot({ ...(rest.names ? { names: rest.names } : {}), staleAfterMs: stale })
  const ensure = (list: MetricSnapshot[]): boolean => {
    let added = false
    for (const m of list) {
      if (m.kind === 'histogram' || instruments.has(m.name)) continue
      const o = { description: m.help, unit: unitOf(m.name), valueType: ValueType.DOUBLE }
      instruments.set(
        m.name,
        m.kind === 'counter'
          ? meter.createObservableCounter(m.name, o)
          : meter.createObservableGauge(m.name, o),
      )
      added = true
    }
    return added
  }
  const callback = async (result: BatchObservableResult) => {
    const list = await read()
    for (const m of list) {
      const instrument = instruments.get(m.name)
      if (!instrument) continue
      for (const s of m.series) result.observe(instrument, s.value, s.labels)
    }
    if (!closed && ensure(list)) rebind()
  }
  let bound: Observable[] = []
  const rebind = () => {
    if (bound.length > 0) meter.removeBatchObservableCallback(callback, bound)
    bound = [...instruments.values()]
    meter.addBatchObservableCallback(callback, bound)
  }
  ensure(await read())
  rebind()
  return {
    close() {
      if (closed) return
      closed = true
      meter.removeBatchObservableCallback(callback, bound)
    },
  }
}
