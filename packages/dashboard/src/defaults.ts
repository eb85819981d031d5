/** How often the live stream (SSE) pushes fresh figures. */
export const DEFAULT_LIVE_INTERVAL_MS = 5_000
/** The namespaces the family's packages use by default (the same as the cli's flags). */
export const DEFAULT_NAMESPACES = {
  locks: 'lock',
  limits: 'rl',
  queues: 'queue',
  sessions: 'sess',
  leaders: 'leader',
} as const
/** The actor written to the audit log for the dashboard's actions. */
export const DEFAULT_ACTOR = 'dashboard'
/** Name of the HttpOnly login cookie. */
export const COOKIE_NAME = 'cache_dashboard'
/** Points per chart: the step is the range divided by this, rounded up to a multiple of 10 s. */
export const CHART_POINTS = 60
/** Time ranges of the picker (ms). */
export const RANGES: Readonly<Record<string, number>> = {
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '24h': 86_400_000,
}
/** The range shown first. */
export const DEFAULT_RANGE = '15m'
