import type { KeyBuilder } from '@cache/client'

/**
 * Every key of one metric shares the `{name}` hash tag, so a flush of the metric is one script call on one
 * cluster slot and a query over any range reads one slot:
 * - `ns:{name}:<width ms>:<bucket start ms>` one hash per resolution and time bucket
 * - `ns:{name}:<width ms>:<bucket start ms>:u` the HyperLogLog of a uniques metric (`…:u:<label values>`
 *   per label set of a labelled one; their label sets are fields of the totals hash)
 * - `ns:{name}:total` cumulative totals (no TTL), what the Prometheus and OpenTelemetry exports read
 * - `ns:{name}:seq` last applied flush sequence per process (idempotent flush)
 */
export function bucketKey(keys: KeyBuilder, name: string, widthMs: number, start: number): string {
  return keys.tagged(name, String(widthMs), String(start))
}

/** The HyperLogLog of a uniques metric in one bucket, per label set (`series`; none: `[]`). */
export function uniquesKey(
  keys: KeyBuilder,
  name: string,
  widthMs: number,
  start: number,
  series = '[]',
): string {
  return series === '[]'
    ? keys.tagged(name, String(widthMs), String(start), 'u')
    : keys.tagged(name, String(widthMs), String(start), 'u', series)
}

/** Cumulative totals of a metric (counters, histogram buckets), without TTL. */
export function totalKey(keys: KeyBuilder, name: string): string {
  return keys.tagged(name, 'total')
}

/** The flush sequence hash of a metric. */
export function seqKey(keys: KeyBuilder, name: string): string {
  return keys.tagged(name, 'seq')
}

/** The field of one process's last gauge value in the totals hash: `<series>|<id, URI-encoded: no '|'>`. */
export function gaugeField(series: string, id: string): string {
  return `${series}|${encodeURIComponent(id)}`
}

/** The shared state of every alert rule (a hash: rule name -> JSON AlertState). */
export function alertStateKey(keys: KeyBuilder): string {
  return keys.key('alerts', 'state')
}
