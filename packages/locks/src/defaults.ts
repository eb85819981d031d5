/** Defaults of @cache/locks options, in one place. */
export const DEFAULT_LOCK_PREFIX = 'lock'
export const DEFAULT_SEMAPHORE_PREFIX = 'sem'
export const DEFAULT_RWLOCK_PREFIX = 'rw'
export const DEFAULT_LEADER_PREFIX = 'leader'
export const DEFAULT_TTL_MS = 10_000
export const DEFAULT_WAIT_TIMEOUT_MS = 5_000
/** Fallback poll while waiting, in case a wake-up message is lost; jittered ±50%. */
export const DEFAULT_RETRY_INTERVAL_MS = 500
export const DEFAULT_FENCING = 'clock' as const
export const DEFAULT_REPLICA_TIMEOUT_MS = 1_000
/** Clock drift allowance per lease: ttl × factor + 2 ms are subtracted from the local validity. */
export const DRIFT_FACTOR = 0.01
export const DRIFT_CONSTANT_MS = 2
/** Redlock: how long one node may take to answer one attempt. */
export const DEFAULT_NODE_TIMEOUT_MS = 100
export const MIN_TTL_MS = 10
export const MAX_TTL_MS = 86_400_000
/** Upper bound of waitTimeout: one day. */
export const MAX_WAIT_MS = 86_400_000
