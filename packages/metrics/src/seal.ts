import type { KeyBuilder } from '@cache/client'
import type { Drainable } from './bound.js'
import type {
  Counter,
  Gauge,
  Histogram,
  HistogramAggregate,
  MetricDefinition,
  Uniques,
} from './instruments.js'
import { bucketKey, gaugeField, seqKey, totalKey, uniquesKey } from './keys.js'
import type { ResolvedMetricsOptions } from './options.js'

/** One flush script call: the keys of one metric (one cluster slot) and the ops on them. */
export interface Batch {
  keys: string[]
  args: string[]
}

/** The in-process state of one metric between flushes. @internal */
export interface MetricState {
  def: MetricDefinition
  instrument: Counter | Gauge | Histogram | Uniques
  /** Finest bucket start -> series -> aggregate. */
  current: Map<number, Map<string, unknown>>
  series: Set<string>
  warned: boolean
  pending: Batch[]
  metaWritten: boolean
  /** The bucket of `current` the last record went to, and its range (a cache of the hot path). */
  bucket: Map<string, unknown> | undefined
  bucketStart: number
  bucketWidth: number
  /** Bound handles (`counter.bind()`), drained into a bucket at its boundary and at each flush. */
  bound: Set<Drainable>
}

type Op = ['i' | 'f' | 's' | 'u', string, string]

/**
 * Turns the current aggregate of a metric into one batch (`version`: the epoch and sequence number that make a
 * retried batch idempotent), and empties the aggregate. Undefined when there is nothing to send.
 */
export function sealBatch(
  state: MetricState,
  keys: KeyBuilder,
  options: ResolvedMetricsOptions,
  version: string,
): Batch | undefined {
  if (state.current.size === 0) return undefined
  const { def } = state
  const current = state.current
  state.current = new Map()
  state.bucket = undefined
  const byKey = new Map<string, { ttl: number; ops: Map<string, Op> }>()
  const add = (key: string, ttl: number, op: Op[0], field: string, value: number | string) => {
    let entry = byKey.get(key)
    if (!entry) {
      entry = { ttl, ops: new Map() }
      byKey.set(key, entry)
    }
    const id = op === 'u' ? `u:${value}` : field
    const prev = entry.ops.get(id)
    if (prev && (op === 'i' || op === 'f')) {
      entry.ops.set(id, [op, field, String(Number(prev[2]) + Number(value))])
    } else {
      entry.ops.set(id, [op, field, String(value)])
    }
  }
  // Sums always go through HINCRBYFLOAT: a field written once as a float would make a later HINCRBY fail
  // halfway through the script. Counts of observations are integers and use HINCRBY.
  const num = (_v: number): Op[0] => 'f'
  const total = totalKey(keys, def.name)
  for (const [start, bucket] of current) {
    for (const res of options.resolutions) {
      const at = Math.floor(start / res.widthMs) * res.widthMs
      const ttl = res.retentionMs + res.widthMs
      const key = bucketKey(keys, def.name, res.widthMs, at)
      for (const [series, agg] of bucket) {
        switch (def.kind) {
          case 'counter':
            add(key, ttl, 'f', series, (agg as { v: number }).v)
            break
          case 'gauge':
            add(key, ttl, 's', `${series}|${options.id}`, agg as number)
            break
          case 'histogram': {
            const h = agg as HistogramAggregate
            for (const [i, c] of h.counts) add(key, ttl, 'i', `${series}|${i}`, c)
            add(key, ttl, num(h.sum), `${series}|sum`, h.sum)
            add(key, ttl, 'i', `${series}|count`, h.count)
            break
          }
          default: {
            const hll = uniquesKey(keys, def.name, res.widthMs, at, series)
            for (const v of agg as Set<string>) add(hll, ttl, 'u', '', v)
          }
        }
      }
    }
    // Cumulative totals (no TTL) for the Prometheus and OpenTelemetry exports.
    for (const [series, agg] of bucket) {
      if (def.kind === 'counter') add(total, 0, 'f', series, (agg as { v: number }).v)
      else if (def.kind === 'gauge') {
        // The last value of this process with the time of its bucket; exports skip stale processes.
        add(total, 0, 's', gaugeField(series, options.id), `${agg as number}@${start}`)
      } else if (def.kind === 'histogram') {
        const h = agg as HistogramAggregate
        for (const [i, c] of h.counts) add(total, 0, 'i', `${series}|${i}`, c)
        add(total, 0, num(h.sum), `${series}|sum`, h.sum)
        add(total, 0, 'i', `${series}|count`, h.count)
      } else if (series !== '[]') {
        // The label sets of a labelled uniques metric, so that a query finds their HyperLogLogs.
        add(total, 0, 's', series, '1')
      }
    }
  }
  if (!state.metaWritten) {
    state.metaWritten = true
    add(total, 0, 's', '#kind', def.kind)
    add(total, 0, 's', '#labels', JSON.stringify(def.labels))
    add(total, 0, 's', '#help', def.help)
    if (def.kind === 'histogram') add(total, 0, 's', '#buckets', JSON.stringify(def.bounds ?? 'log'))
  }
  const maxRetention = Math.max(...options.resolutions.map((r) => r.retentionMs + r.widthMs))
  const batchKeys = [seqKey(keys, def.name)]
  const args = [options.id, version, String(maxRetention)]
  for (const [key, entry] of byKey) {
    batchKeys.push(key)
    args.push(String(entry.ttl), String(entry.ops.size))
    for (const op of entry.ops.values()) args.push(...op)
  }
  return { keys: batchKeys, args }
}
