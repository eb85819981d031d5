/** Defaults of @cache/metrics options, in one place. */
export const DEFAULT_NAMESPACE = 'metrics'
/** Resolution width -> retention: 10 s buckets for a day, 1 min for a week, 1 h for 90 days. */
export const DEFAULT_RESOLUTIONS: Readonly<Record<string, string>> = { '10s': '1d', '1m': '7d', '1h': '90d' }
export const DEFAULT_FLUSH_INTERVAL_MS = 5_000
/** Label sets per metric before new ones are dropped (and counted in metrics_dropped_series_total). */
export const DEFAULT_MAX_SERIES = 1_000
/** Failed flush batches kept per metric for retry; beyond, the oldest is dropped (the documented loss bound). */
export const DEFAULT_MAX_PENDING_BATCHES = 60
/** Relative accuracy of the 'log' histogram layout: every quantile is within 1% of a real sample. */
export const LOG_RELATIVE_ERROR = 0.01
/** Values below this are counted in the log layout's zero bucket. */
export const LOG_MIN_VALUE = 1e-9
export const DROPPED_SERIES_METRIC = 'metrics_dropped_series_total'
/** Round-trip limit of one flush script call. */
export const FLUSH_TIMEOUT_MS = 5_000
/** Exports ignore a process's gauge value when its last flush is older than this (the process is gone). */
export const DEFAULT_GAUGE_STALE_MS = 60_000
/** Buckets a log-layout histogram is folded into for Prometheus and OpenTelemetry (prom-client's defaults). */
export const DEFAULT_EXPORT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])
