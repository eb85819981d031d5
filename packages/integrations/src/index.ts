export type { CircuitBreakerOptions, ResolvedBreakerOptions } from './breaker-options.js'
export { type Directives, type Freshness, freshness, parseCacheControl } from './cache-control.js'
export { CircuitBreaker, type CircuitState, type CircuitStats } from './circuit-breaker.js'
export { PKG } from './defaults.js'
export {
  type BreakerEvent,
  breakerStateChannel,
  type ResponseEvent,
  responseChannel,
} from './diagnostics.js'
export { CircuitOpenError, type IntegrationsErrorCode } from './errors.js'
export { BreakerKeys } from './keys.js'
export type { CapturedResponse, RequestFacts } from './request-facts.js'
export { type CacheOutcome, type Lookup, type ReadyResponse, ResponseCache } from './response-cache.js'
export { normaliseUrl, responseKey } from './response-key.js'
export type { ResolvedResponseOptions, ResponseCacheOptions } from './response-options.js'
export {
  type CachedQueryOptions,
  cachedQuery,
  invalidateTables,
  invalidateWrites,
  type QueryCacheSetting,
  type SqlCacheOptions,
} from './sql-cache.js'
export { type StatementTables, statementTables, tableTag } from './sql-tables.js'
export { bodyEtag, etagMatches, type StoredResponse } from './stored-response.js'
