import { type Connection, hgetallRecord, type KeyBuilder } from '@cache/client'
import { totalKey } from './keys.js'
import type { MetricKind } from './names.js'
import { type BucketLayout, fixedLayout, LOG_LAYOUT } from './sketch.js'

/** One series of a metric's cumulative state, merged over every process that wrote it. */
export interface SnapshotSeries {
  /** Label values by label name. */
  labels: Record<string, string>
  /** Counters: the cumulative total; gauges: the sum of the fresh processes' last values. */
  value: number
  /** Histograms: `[upper bound, count in that bucket]` (not cumulative), by increasing bound. */
  buckets?: Array<[number, number]>
  /** Histograms: the sum of the observations. */
  sum?: number
  /** Histograms: the number of observations (equal to `value`). */
  count?: number
}

/** The cumulative state of one metric as every process flushed it (what the Prometheus and OTel exports read). */
export interface MetricSnapshot {
  name: string
  kind: Exclude<MetricKind, 'uniques'>
  help: string
  labels: readonly string[]
  /** Histograms: the fixed bounds, or undefined for the log layout. */
  bounds?: readonly number[]
  series: SnapshotSeries[]
}

/** Options of `metrics.snapshot()`. */
export interface SnapshotOptions {
  /** Metric names to read; default: every metric any process stored in the namespace (found by SCAN). */
  names?: readonly string[]
  /** A process's gauge value is ignored when its last flush is older than this (a dead process). @default 60000 */
  staleAfterMs?: number
}

/** Names of every metric stored in the namespace: a SCAN of `<ns>:{*}:total` on every master. */
export async function discoverMetrics(conn: Connection, keys: KeyBuilder): Promise<string[]> {
  const names = new Set<string>()
  for await (const batch of conn.scan(keys.pattern('{*}:total'))) {
    for (const key of batch) {
      const open = key.indexOf('{', keys.prefix.length - 1)
      const close = key.indexOf('}', open)
      if (open < 0 || close < 0) continue
      try {
        names.add(decodeURIComponent(key.slice(open + 1, close)))
      } catch {}
    }
  }
  return [...names].sort()
}

function labelsOf(names: readonly string[], series: string): Record<string, string> {
  let values: unknown = []
  try {
    values = JSON.parse(series)
  } catch {}
  const out: Record<string, string> = {}
  names.forEach((n, i) => {
    out[n] = Array.isArray(values) ? String(values[i] ?? '') : ''
  })
  return out
}

/** Reads the totals hash of each metric (one HGETALL on its slot) and merges it into snapshots. */
export async function readSnapshot(
  conn: Connection,
  keys: KeyBuilder,
  names: readonly string[],
  now: number,
  staleAfterMs: number,
): Promise<MetricSnapshot[]> {
  const hashes = await Promise.all(
    names.map((name) => {
      const key = totalKey(keys, name)
      return conn.send(['HGETALL', key], { key, readonly: true }).then((r) => hgetallRecord<string>(r))
    }),
  )
  const out: MetricSnapshot[] = []
  names.forEach((name, n) => {
    const h = hashes[n]!
    const kind = h['#kind'] as MetricKind | undefined
    if (!kind || kind === 'uniques') return
    const labels = JSON.parse(h['#labels'] ?? '[]') as string[]
    const b = h['#buckets'] ? (JSON.parse(h['#buckets']) as 'log' | number[]) : 'log'
    const bounds = Array.isArray(b) ? b : undefined
    const layout: BucketLayout = bounds ? fixedLayout(bounds) : LOG_LAYOUT
    const bySeries = new Map<string, SnapshotSeries & { counts: Map<number, number> }>()
    const seriesFor = (series: string) => {
      let s = bySeries.get(series)
      if (!s) {
        s = { labels: labelsOf(labels, series), value: 0, counts: new Map() }
        bySeries.set(series, s)
      }
      return s
    }
    for (const [field, raw] of Object.entries(h)) {
      if (field.startsWith('#')) continue
      const bar = field.lastIndexOf('|')
      if (kind === 'counter') {
        seriesFor(field).value += Number(raw)
        continue
      }
      if (bar < 0) continue
      const series = field.slice(0, bar)
      const suffix = field.slice(bar + 1)
      if (kind === 'gauge') {
        const at = raw.lastIndexOf('@')
        const t = Number(raw.slice(at + 1))
        const s = seriesFor(series)
        if (at > 0 && now - t <= staleAfterMs) s.value += Number(raw.slice(0, at))
        continue
      }
      const s = seriesFor(series)
      if (suffix === 'sum') s.sum = (s.sum ?? 0) + Number(raw)
      else if (suffix === 'count') s.count = (s.count ?? 0) + Number(raw)
      else {
        const i = Number(suffix)
        s.counts.set(i, (s.counts.get(i) ?? 0) + Number(raw))
      }
    }
    const series: SnapshotSeries[] = []
    for (const s of bySeries.values()) {
      const { counts, ...rest } = s
      if (kind === 'histogram') {
        const idx = [...counts.keys()].sort((a, z) => a - z)
        rest.buckets = idx.map((i) => [layout.upper(i), counts.get(i)!] as [number, number])
        rest.count ??= 0
        rest.sum ??= 0
        rest.value = rest.count
      }
      series.push(rest)
    }
    series.sort((a, z) => (JSON.stringify(a.labels) < JSON.stringify(z.labels) ? -1 : 1))
    out.push({
      name,
      kind,
      help: h['#help'] ?? name,
      labels,
      ...(bounds ? { bounds } : {}),
      series,
    })
  })
  return out
}

/**
 * Folds a histogram's buckets into `bounds` plus an overflow bucket (counts per bucket, not cumulative). A log
 * bucket is counted in the first bound at or above its upper end: a bound inside a log bucket moves at most
 * that bucket's width (2%) of values across it.
 */
export function foldBuckets(
  buckets: ReadonlyArray<readonly [number, number]>,
  bounds: readonly number[],
): number[] {
  const out = new Array<number>(bounds.length + 1).fill(0)
  for (const [upper, count] of buckets) {
    let i = 0
    while (i < bounds.length && bounds[i]! < upper * (1 - 1e-12)) i++
    out[i]! += count
  }
  return out
}

/** `foldBuckets` made cumulative, as the Prometheus `le` buckets are. */
export function cumulativeBuckets(
  buckets: ReadonlyArray<readonly [number, number]>,
  bounds: readonly number[],
): number[] {
  const out = foldBuckets(buckets, bounds)
  for (let i = 1; i < out.length; i++) out[i]! += out[i - 1]!
  return out
}
