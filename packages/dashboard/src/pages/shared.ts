import { formatBytes } from '@cache/cli'
import type { BigKeysReport, Metrics, Recommendation } from '@cache/metrics'
import { type LineSpec, ratio } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'

/** Cache reads by namespace, tier and outcome. */
export const REQUESTS = 'cache_requests_total'
/** Redis command latency by command and outcome. */
export const COMMANDS = 'cache_redis_command_duration_seconds'

/** Distinct values of `labels` in a metric's stored series (from its cumulative snapshot). */
export async function labelValues(metrics: Metrics, name: string, labels: string[]): Promise<string[][]> {
  const snap = await metrics.snapshot({ names: [name] }).catch(() => [])
  const seen = new Map<string, string[]>()
  for (const m of snap)
    for (const s of m.series) {
      const v = labels.map((l) => s.labels[l] ?? '')
      seen.set(JSON.stringify(v), v)
    }
  return [...seen.values()].sort((a, b) => a.join('\0').localeCompare(b.join('\0')))
}

/** 0.123 -> 12.3%. */
export const pct = (r: number | null | undefined) =>
  r === null || r === undefined ? '-' : `${(r * 100).toFixed(1)}%`
/** A number to `digits` decimals, - when absent. */
export const num = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '-' : v.toFixed(digits)
/** Bytes for a person, - when absent. */
export const bytes = (n: number | undefined) => (n === undefined ? '-' : formatBytes(n))

/** One hit-ratio line per label group. */
export function hitRatioLines(groups: string[][], labelNames: string[]): LineSpec[] {
  return groups.map((g) => {
    const labels = Object.fromEntries(labelNames.map((l, i) => [l, g[i]!]))
    return {
      label: g.join(' '),
      queries: ['hit', 'miss', 'stale'].map((outcome) => ({
        name: REQUESTS,
        fn: 'increase' as const,
        labels: { ...labels, outcome },
      })),
      combine: ratio,
    }
  })
}

// Results that SCAN and sample keys, kept a minute per connection (a live page must not scan every tick).
const slow = new WeakMap<object, Map<string, { at: number; value: Promise<unknown> }>>()
const SLOW_TTL_MS = 60_000

/** `read()` of the connection, run again at most once a minute (it SCANs and samples). */
function everyMinute<T>(o: ResolvedDashboardOptions, name: string, read: () => Promise<T>): Promise<T> {
  const map = slow.get(o.conn) ?? new Map<string, { at: number; value: Promise<unknown> }>()
  slow.set(o.conn, map)
  const hit = map.get(name)
  if (hit && Date.now() - hit.at < SLOW_TTL_MS) return hit.value as Promise<T>
  const value = read()
  map.set(name, { at: Date.now(), value })
  return value
}

/** The big-keys report (2 000 sampled keys of the connection's namespace), at most once a minute. */
export function bigKeysCached(o: ResolvedDashboardOptions): Promise<BigKeysReport | undefined> {
  return everyMinute(o, 'bigKeys', () => o.metrics.bigKeys({ sample: 2000, top: 20 }).catch(() => undefined))
}

/** metrics.recommendations() (INFO of every node and a 2 000-key sample of the server), at most once a minute. */
export function recommendationsCached(o: ResolvedDashboardOptions): Promise<Recommendation[]> {
  return everyMinute(o, 'recommendations', () => o.metrics.recommendations().catch(() => []))
}
