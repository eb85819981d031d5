/** Defaults of @cache/tiered options, in one place. */
export const PKG = '@cache/tiered'
/** L1: most entries kept. */
export const DEFAULT_L1_MAX_ENTRIES = 10_000
/** L1: byte budget (estimated sizes). */
export const DEFAULT_L1_MAX_BYTES = 64 * 1024 * 1024
/** L1: longest time an entry is served from process memory without asking Redis. */
export const DEFAULT_L1_TTL_MS = 60_000
/** Grace period: how long after expiry a value may still be served stale (0: off). */
export const DEFAULT_GRACE_MS = 0
/** Soft factory timeout (0: off): past it, a stale value is returned and the factory finishes in the background. */
export const DEFAULT_SOFT_TIMEOUT_MS = 0
/** Hard factory timeout (0: off): past it, the factory is aborted and getOrSet rejects with E_FACTORY_TIMEOUT. */
export const DEFAULT_HARD_TIMEOUT_MS = 0
/** Lease taken by the one process that refreshes a stale value. */
export const REFRESH_LEASE_MS = 10_000
/** First delay before re-establishing a lost tracking connection. */
export const COHERENCE_RETRY_MIN_MS = 50
/** Longest delay between attempts to re-establish a lost tracking connection. */
export const COHERENCE_RETRY_MAX_MS = 2_000
/** Writes kept for replay while Redis is unavailable (`offlineWrites: 'retry'`). */
export const DEFAULT_MAX_OFFLINE_WRITES = 10_000
/** How often queued offline writes are retried. */
export const DEFAULT_OFFLINE_RETRY_MS = 1_000
/** The bus channel (under the bus prefix) carrying invalidations. */
export const BUS_CHANNEL = 'tiered:invalidate'
/** Virtual nodes per shard on the consistent-hash ring. */
export const DEFAULT_VIRTUAL_NODES = 160
/** warm(): loaders run at once. */
export const DEFAULT_WARM_CONCURRENCY = 8
