export { ACTIONS, type ActionName, type ActionResult } from './actions.js'
export type { Chart, ChartSeries } from './charts.js'
export { DEFAULT_LIVE_INTERVAL_MS, DEFAULT_NAMESPACES, RANGES } from './defaults.js'
export {
  type DashboardErrorCode,
  ForbiddenError,
  ReadOnlyError,
  UnauthorizedError,
} from './errors.js'
export { type DashboardHandler, type DashboardRequest, dashboard, SECURITY_HEADERS } from './handler.js'
export type {
  DashboardAlerts,
  DashboardAuditLog,
  DashboardCache,
  DashboardOptions,
  DashboardSessions,
  ResolvedDashboardOptions,
} from './options.js'
export { PAGES, type PageData, type PageName } from './pages/index.js'
