export {
  type AlertExpr,
  type AlertNotification,
  type AlertNotify,
  type AlertRule,
  type AlertState,
  Alerts,
  type AlertsOptions,
  alertNotificationSchema,
  type RatioSide,
  type ResolvedAlertRule,
} from './alerts.js'
export {
  type BigKeysOptions,
  type BigKeysProgress,
  type BigKeysReport,
  type KeySample,
  QUEUE_KEY,
} from './big-keys.js'
export { BoundCounter, BoundHistogram } from './bound.js'
export {
  type ExportedMetric,
  exportedMetrics,
  grafanaDashboard,
  metricsReferenced,
  PROMETHEUS_ALERTS,
  type PrometheusAlert,
  prometheusRulesYaml,
} from './dashboards.js'
export { DEFAULT_RESOLUTIONS, DROPPED_SERIES_METRIC, LOG_RELATIVE_ERROR } from './defaults.js'
export type { MetricsErrorCode } from './errors.js'
export {
  CHANNEL_BINDINGS,
  type ChannelBinding,
  INSTRUMENTED_PACKAGES,
  type InstrumentedPackage,
  type InstrumentOptions,
  instrument,
} from './instrument.js'
export {
  Counter,
  Gauge,
  type GaugeSample,
  Histogram,
  type Labels,
  type MetricDefinition,
  Uniques,
} from './instruments.js'
export {
  type CounterOptions,
  type FlushResult,
  flushChannel,
  type GaugeOptions,
  type HistogramOptions,
  Metrics,
  type UniquesOptions,
} from './metrics.js'
export { type MetricKind, validateNames } from './names.js'
export type { MetricsOptions, Resolution, ResolvedMetricsOptions } from './options.js'
export type { QueryFn, QueryOptions, QueryPoint, QueryResult } from './query.js'
export { type Recommendation, type RecommendationOptions, recommend } from './recommendations.js'
export type {
  LatencyEvent,
  NodeInsight,
  ReplicaLink,
  ServerInsight,
  ServerOptions,
  SlowlogEntry,
} from './server.js'
export { type BucketLayout, fixedLayout, LOG_LAYOUT, quantile } from './sketch.js'
export type { MetricSnapshot, SnapshotOptions, SnapshotSeries } from './snapshot.js'
