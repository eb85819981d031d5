/** Defaults of @cache/ratelimit options, in one place. */

/** Namespace part of every key, under the connection's namespace. */
export const DEFAULT_PREFIX = 'rl'
/** Units a request costs when no cost is given. */
export const DEFAULT_COST = 1
/** What happens while Redis is unreachable. */
export const DEFAULT_OUTAGE_POLICY = 'local'
/** Whose clock the scripts use. */
export const DEFAULT_CLOCK = 'server'
/** Retry-After suggested while Redis is down and the policy is 'fail-closed'. */
export const DEFAULT_FAIL_CLOSED_RETRY_MS = 1_000
/** Keys remembered by the in-process block cache (oldest evicted first). */
export const DEFAULT_BLOCK_CACHE_MAX_KEYS = 10_000
/** Keys the in-memory 'local' fallback keeps state for (oldest evicted first). */
export const DEFAULT_LOCAL_MAX_KEYS = 100_000
/** Lease of a concurrency slot when the holder never releases it. */
export const DEFAULT_LEASE_MS = 30_000
/** How often live rules are re-read from Redis, besides the pub/sub notice. */
export const DEFAULT_RULES_REFRESH_MS = 30_000
/** Adaptive mode: the limit never scales below this fraction. */
export const DEFAULT_ADAPTIVE_MIN_SCALE = 0.1
/** The largest limit (and burst). */
export const MAX_LIMIT = 1_000_000_000
/** The longest window. */
export const MAX_WINDOW_MS = 30 * 86_400_000
/** burst × window must stay below this so the integer arithmetic of the scripts is exact. */
export const MAX_BURST_TIMES_WINDOW = 2 ** 51
