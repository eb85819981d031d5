import {
  type Connection,
  type Duration,
  hgetallRecord,
  InvalidArgumentError,
  type KeyBuilder,
  parseDuration,
} from '@cache/client'
import type { Labels, MetricDefinition } from './instruments.js'
import { bucketKey, totalKey, uniquesKey } from './keys.js'
import type { MetricKind } from './names.js'
import type { ResolvedMetricsOptions } from './options.js'
import { type BucketLayout, fixedLayout, LOG_LAYOUT, quantile } from './sketch.js'

const PKG = '@cache/metrics'

/** Aggregations of `query()`: `pNN` is any quantile of a histogram (p50, p90, p99, p999). */
export type QueryFn = 'rate' | 'increase' | 'sum' | 'avg' | 'min' | 'max' | 'count' | `p${number}`

/** Arguments of `metrics.query()`. */
export interface QueryOptions {
  /** The metric name. */
  name: string
  /** Only series whose labels have these values (others are summed over). */
  labels?: Labels
  /** Start (ms since the epoch or a Date), inclusive. */
  from: number | Date
  /** End (ms since the epoch or a Date), exclusive. */
  to: number | Date
  /** Width of each point; rounded up to a multiple of the resolution read. */
  step: Duration
  /**
   * counter: rate (per second), increase, sum; gauge: sum / avg / min / max of the processes' last values;
   * histogram: pNN (from merged buckets), avg (mean observation), sum, count, rate and increase (of the count);
   * uniques: count (distinct values in the step, PFCOUNT over its buckets).
   */
  fn: QueryFn
}

/** One point of a query result; `value` is null where a step has no data for that function. */
export interface QueryPoint {
  t: number
  value: number | null
}

/** The result of `metrics.query()`. */
export interface QueryResult {
  name: string
  fn: QueryFn
  /** The step used (ms). */
  step: number
  /** The resolution read (bucket width, ms). */
  resolution: number
  points: QueryPoint[]
}

interface Meta {
  kind: MetricKind
  labels: readonly string[]
  layout?: BucketLayout
}

const FNS: Record<MetricKind, RegExp> = {
  counter: /^(rate|increase|sum)$/,
  gauge: /^(sum|avg|min|max)$/,
  histogram: /^(p\d+|avg|sum|count|rate|increase)$/,
  uniques: /^(count|sum)$/,
}

/** Reads a metric's definition from Redis (written by the first flush of any process). */
async function readMeta(conn: Connection, keys: KeyBuilder, name: string): Promise<Meta | undefined> {
  const key = totalKey(keys, name)
  const [kind, labels, buckets] = await conn.send<(string | null)[]>(
    ['HMGET', key, '#kind', '#labels', '#buckets'],
    {
      key,
    },
  )
  if (!kind) return undefined
  const b = buckets ? (JSON.parse(buckets) as 'log' | number[]) : undefined
  return {
    kind: kind as MetricKind,
    labels: labels ? (JSON.parse(labels) as string[]) : [],
    ...(b ? { layout: b === 'log' ? LOG_LAYOUT : fixedLayout(b) } : {}),
  }
}

/** Reads sent at once by one query: a day at 10 s is 8640 buckets, more than a client queue should hold. */
const QUERY_CHUNK = 500

/** Runs the reads `QUERY_CHUNK` at a time (each chunk pipelined by the client), in order. */
async function inChunks<T>(reads: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < reads.length; i += QUERY_CHUNK) {
    out.push(...(await Promise.all(reads.slice(i, i + QUERY_CHUNK).map((read) => read()))))
  }
  return out
}

function quantileOf(fn: string): number | undefined {
  const m = /^p(\d+)$/.exec(fn)
  if (!m) return undefined
  return Number(`0.${m[1]}`)
}

/** Whether a series field (JSON label values) has the filter's values at the filter's label positions. */
function matchesLabels(series: string, filter: ReadonlyArray<readonly [number, string]>): boolean {
  if (filter.length === 0) return true
  let values: string[] = []
  try {
    values = JSON.parse(series) as string[]
  } catch {}
  return filter.every(([i, v]) => values[i] === v)
}

/** Runs one query: picks a resolution, reads the buckets of [from, to) and aggregates them per step. */
export async function runQuery(
  conn: Connection,
  keys: KeyBuilder,
  options: ResolvedMetricsOptions,
  query: QueryOptions,
  local: (name: string) => MetricDefinition | undefined,
): Promise<QueryResult> {
  if (!query || typeof query.name !== 'string')
    throw new InvalidArgumentError(PKG, 'name', 'must be a metric name')
  const from = +query.from
  const to = +query.to
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    throw new InvalidArgumentError(PKG, 'to', 'must be after "from" (both ms since the epoch or Dates)')
  }
  let stepMs: number
  try {
    stepMs = parseDuration(query.step)
  } catch {
    throw new InvalidArgumentError(PKG, 'step', `must be a duration, got ${JSON.stringify(query.step)}`)
  }
  if (!(stepMs > 0)) throw new InvalidArgumentError(PKG, 'step', 'must be positive')
  const def = local(query.name)
  const meta: Meta | undefined = def ?? (await readMeta(conn, keys, query.name))
  const fn = query.fn
  if (!meta) {
    return { name: query.name, fn, step: stepMs, resolution: options.resolutions[0]!.widthMs, points: [] }
  }
  if (typeof fn !== 'string' || !FNS[meta.kind].test(fn)) {
    throw new InvalidArgumentError(PKG, 'fn', `"${String(fn)}" does not apply to a ${meta.kind}`)
  }
  // The coarsest resolution that still divides the step and whose retention reaches back to `from`.
  const now = options.clock()
  const covering = options.resolutions.filter((r) => now - from <= r.retentionMs)
  const pool = covering.length > 0 ? covering : [options.resolutions[options.resolutions.length - 1]!]
  const fitting = pool.filter((r) => r.widthMs <= stepMs && stepMs % r.widthMs === 0)
  const res = fitting.length > 0 ? fitting[fitting.length - 1]! : pool[0]!
  const width = res.widthMs
  if (stepMs % width !== 0) stepMs = Math.ceil(stepMs / width) * width
  const first = Math.floor(from / width) * width
  const windows: number[] = []
  for (let t = first; t < to; t += stepMs) windows.push(t)
  if (windows.length > 100_000) throw new InvalidArgumentError(PKG, 'step', 'gives more than 100000 points')
  const perWindow = stepMs / width
  const points: QueryPoint[] = []

  const filter = query.labels
    ? Object.entries(query.labels).map(([k, v]) => [meta.labels.indexOf(k), String(v)] as const)
    : []
  for (const [i] of filter)
    if (i < 0) throw new InvalidArgumentError(PKG, 'labels', `not a label of ${query.name}`)

  if (meta.kind === 'uniques') {
    // A labelled metric: the HyperLogLogs of the matching label sets (listed in the totals hash), merged.
    let series = ['[]']
    if (meta.labels.length > 0) {
      const total = totalKey(keys, query.name)
      const fields = (await conn.send<string[]>(['HKEYS', total], { key: total, readonly: true })).map(String)
      series = fields.filter((f) => f.startsWith('[') && matchesLabels(f, filter))
      if (series.length === 0) {
        return {
          name: query.name,
          fn,
          step: stepMs,
          resolution: width,
          points: windows.map((t) => ({ t, value: 0 })),
        }
      }
    }
    const counts = await inChunks(
      windows.map((t) => () => {
        const ks: string[] = []
        for (let i = 0; i < perWindow; i++)
          for (const s of series) ks.push(uniquesKey(keys, query.name, width, t + i * width, s))
        return conn.send<number>(['PFCOUNT', ...ks], { key: ks[0], readonly: true })
      }),
    )
    for (let i = 0; i < windows.length; i++) points.push({ t: windows[i]!, value: Number(counts[i]) })
    return { name: query.name, fn, step: stepMs, resolution: width, points }
  }

  const bucketStarts: number[] = []
  for (const t of windows) for (let i = 0; i < perWindow; i++) bucketStarts.push(t + i * width)
  const hashes = await inChunks(
    bucketStarts.map((start) => () => {
      const key = bucketKey(keys, query.name, width, start)
      return conn.send(['HGETALL', key], { key, readonly: true }).then((r) => hgetallRecord<string>(r))
    }),
  )
  const seriesCache = new Map<string, boolean>()
  const matches = (series: string): boolean => {
    if (filter.length === 0) return true
    let ok = seriesCache.get(series)
    if (ok === undefined) {
      ok = matchesLabels(series, filter)
      seriesCache.set(series, ok)
    }
    return ok
  }
  const stepSeconds = stepMs / 1000
  const q = quantileOf(fn)
  for (let w = 0; w < windows.length; w++) {
    const t = windows[w]!
    const slice = hashes.slice(w * perWindow, (w + 1) * perWindow)
    if (meta.kind === 'counter') {
      let sum = 0
      for (const h of slice) for (const [field, v] of Object.entries(h)) if (matches(field)) sum += Number(v)
      points.push({ t, value: fn === 'rate' ? sum / stepSeconds : sum })
      continue
    }
    if (meta.kind === 'gauge') {
      // The last value of each (series, process) in the window.
      const last = new Map<string, number>()
      for (const h of slice) {
        for (const [field, v] of Object.entries(h)) {
          const bar = field.lastIndexOf('|')
          if (matches(field.slice(0, bar))) last.set(field, Number(v))
        }
      }
      const values = [...last.values()]
      if (values.length === 0) {
        points.push({ t, value: null })
        continue
      }
      const sum = values.reduce((a, b) => a + b, 0)
      const value =
        fn === 'sum'
          ? sum
          : fn === 'avg'
            ? sum / values.length
            : fn === 'min'
              ? Math.min(...values)
              : Math.max(...values)
      points.push({ t, value })
      continue
    }
    const counts = new Map<number, number>()
    let sum = 0
    let count = 0
    for (const h of slice) {
      for (const [field, v] of Object.entries(h)) {
        const bar = field.lastIndexOf('|')
        if (!matches(field.slice(0, bar))) continue
        const suffix = field.slice(bar + 1)
        if (suffix === 'sum') sum += Number(v)
        else if (suffix === 'count') count += Number(v)
        else counts.set(Number(suffix), (counts.get(Number(suffix)) ?? 0) + Number(v))
      }
    }
    let value: number | null
    if (q !== undefined) {
      const v = quantile(meta.layout ?? LOG_LAYOUT, counts, q)
      value = Number.isNaN(v) ? null : v
    } else if (fn === 'avg') value = count > 0 ? sum / count : null
    else if (fn === 'sum') value = sum
    else if (fn === 'rate') value = count / stepSeconds
    else value = count
    points.push({ t, value })
  }
  return { name: query.name, fn, step: stepMs, resolution: width, points }
}
