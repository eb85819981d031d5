import { type Duration, InvalidArgumentError, parseDuration } from '@cache/client'
import type { Registry } from 'prom-client'
import { DEFAULT_EXPORT_BUCKETS, DEFAULT_GAUGE_STALE_MS } from './defaults.js'
import type { Metrics } from './metrics.js'
import { cumulativeBuckets, type MetricSnapshot } from './snapshot.js'

const PKG = '@cache/metrics'

/** Options of the Prometheus exports. */
export interface PrometheusOptions {
  /** Metrics to export; default every metric stored in the namespace (found by SCAN at each scrape). */
  names?: readonly string[]
  /** `le` bounds that log-layout histograms are folded into (fixed-bucket histograms keep theirs). @default prom-client's defaults, 5ms…10s */
  buckets?: readonly number[]
  /** A process's gauge value is left out when its last flush is older than this. @default '1m' */
  staleAfter?: Duration
}

interface Resolved {
  names?: readonly string[]
  buckets: readonly number[]
  staleAfterMs: number
}

function resolve(options: PrometheusOptions = {}): Resolved {
  const buckets = options.buckets ?? DEFAULT_EXPORT_BUCKETS
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))
  ) {
    throw new InvalidArgumentError(PKG, 'buckets', 'must be finite, strictly increasing bounds')
  }
  let staleAfterMs = DEFAULT_GAUGE_STALE_MS
  if (options.staleAfter !== undefined) {
    try {
      staleAfterMs = parseDuration(options.staleAfter)
    } catch {
      throw new InvalidArgumentError(
        PKG,
        'staleAfter',
        `must be a duration, got ${String(options.staleAfter)}`,
      )
    }
  }
  return { ...(options.names ? { names: options.names } : {}), buckets, staleAfterMs }
}

/** One exposition sample: the prom-client `values` entry shape. */
interface Sample {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

function formatLe(bound: number): string {
  return bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound)
}

/** The samples of one metric in Prometheus form (`_bucket`/`_sum`/`_count` for histograms). */
function samplesOf(m: MetricSnapshot, buckets: readonly number[]): Sample[] {
  const out: Sample[] = []
  for (const s of m.series) {
    if (m.kind !== 'histogram') {
      out.push({ metricName: m.name, labels: s.labels, value: s.value })
      continue
    }
    const bounds = m.bounds ?? buckets
    const cumulative = cumulativeBuckets(s.buckets ?? [], bounds)
    cumulative.forEach((c, i) => {
      const le = i < bounds.length ? bounds[i]! : Number.POSITIVE_INFINITY
      out.push({ metricName: `${m.name}_bucket`, labels: { ...s.labels, le: formatLe(le) }, value: c })
    })
    out.push({ metricName: `${m.name}_sum`, labels: s.labels, value: s.sum ?? 0 })
    out.push({ metricName: `${m.name}_count`, labels: s.labels, value: s.count ?? 0 })
  }
  return out
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const escapeValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

/**
 * The Prometheus text exposition (format 0.0.4) of every metric, merged over every process that flushed:
 * one scrape of any process (or of a dedicated exporter) sees the whole fleet, counted once.
 * @example res.end(await prometheusText(metrics))
 */
export async function prometheusText(metrics: Metrics, options?: PrometheusOptions): Promise<string> {
  const o = resolve(options)
  const snapshots = await metrics.snapshot({
    ...(o.names ? { names: o.names } : {}),
    staleAfterMs: o.staleAfterMs,
  })
  const blocks: string[] = []
  for (const m of snapshots) {
    const lines = [`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.kind}`]
    for (const s of samplesOf(m, o.buckets)) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeValue(String(v))}"`)
        .join(',')
      lines.push(`${s.metricName}${labels ? `{${labels}}` : ''} ${formatNumber(s.value)}`)
    }
    blocks.push(lines.join('\n'))
  }
  return blocks.length > 0 ? `${blocks.join('\n\n')}\n` : ''
}

/** What `prometheusCollector()` returns. */
export interface PrometheusCollector {
  /** Finds metrics stored since the last scrape and registers them; resolves to the registered names. */
  refresh(): Promise<string[]>
  /** Removes every metric this collector registered from the registry. Idempotent. */
  close(): void
}

/** How long one scrape's snapshot is shared by the metrics of the registry (they are read one by one). */
const SCRAPE_SHARE_MS = 250

/**
 * Registers the stored metrics into a prom-client `Registry` (`registry.metrics()` reads them from Redis at
 * scrape time, merged across processes). New metrics stored later are registered at the next scrape (or by
 * `refresh()`). prom-client is an optional peer dependency of this subpath.
 * @example
 * const registry = new Registry()
 * await prometheusCollector(metrics, { registry })
 * res.end(await registry.metrics())
 */
export async function prometheusCollector(
  metrics: Metrics,
  options: PrometheusOptions & { registry: Registry },
): Promise<PrometheusCollector> {
  const { registry, ...rest } = options ?? ({} as typeof options)
  if (!registry || typeof registry.registerMetric !== 'function') {
    throw new InvalidArgumentError(PKG, 'registry', 'must be a prom-client Registry')
  }
  const o = resolve(rest)
  const registered = new Map<string, { kind: string }>()
  let shared: { at: number; snapshot: Promise<Map<string, MetricSnapshot>> } | undefined
  let closed = false

  const load = (): Promise<Map<string, MetricSnapshot>> => {
    const now = Date.now()
    if (shared && now - shared.at < SCRAPE_SHARE_MS) return shared.snapshot
    const snapshot = metrics
      .snapshot({ ...(o.names ? { names: o.names } : {}), staleAfterMs: o.staleAfterMs })
      .then((list) => {
        const byName = new Map(list.map((m) => [m.name, m]))
        // Metrics stored since the last scrape appear at the next one.
        for (const m of list) register(m)
        return byName
      })
    shared = { at: now, snapshot }
    return snapshot
  }

  const register = (m: MetricSnapshot): void => {
    if (closed || registered.has(m.name)) return
    const name = m.name
    registered.set(name, { kind: m.kind })
    const metric = {
      name,
      help: m.help,
      type: m.kind,
      aggregator: 'sum',
      async get() {
        const current = (await load()).get(name) ?? { ...m, series: [] }
        return {
          name,
          help: current.help,
          type: current.kind,
          aggregator: 'sum',
          values: samplesOf(current, o.buckets),
        }
      },
      reset() {},
    }
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
  }

  const refresh = async (): Promise<string[]> => {
    shared = undefined
    await load()
    return [...registered.keys()].sort()
  }
  await refresh()
  return {
    refresh,
    close() {
      if (closed) return
      closed = true
      for (const name of registered.keys()) registry.removeSingleMetric(name)
    },
  }
}
