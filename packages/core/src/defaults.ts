/** Defaults of @cache/core options, in one place. */
export const PKG = '@cache/core'
/** Shortest TTL an entry may have. */
export const MIN_TTL_MS = 1_000
/** Longest TTL an entry may have. */
export const MAX_TTL_MS = 30 * 86_400_000
/** `defaultTtl` when none is given. */
export const DEFAULT_TTL_MS = 10 * 60_000
/** Encoded values at least this large are LZ4-compressed. */
export const DEFAULT_COMPRESS_THRESHOLD = 1024
/** Largest encoded value a RedisCache stores. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024
/** MemoryCache: most entries kept. */
export const DEFAULT_MAX_ENTRIES = 100_000
/** MemoryCache: share of available memory used as the default byte budget. */
export const DEFAULT_MEMORY_FRACTION = 0.1
/** MemoryCache: the byte budget never exceeds this share of available memory. */
export const MAX_MEMORY_FRACTION = 0.8
/** getOrSet: how long a cross-process lease lasts before another process may take over. */
export const DEFAULT_LEASE_TTL_MS = 10_000
/** getOrSet: longest wait between two checks of a lease when no notification arrives. */
export const DEFAULT_LEASE_POLL_MS = 200
/** Latency samples kept for percentiles. */
export const LATENCY_SAMPLES = 1024
/** Keys per SCAN batch (deletePattern, clear). */
export const SCAN_COUNT = 500
/** Shared stats: how often local counters are added to the Redis hash. */
export const DEFAULT_STATS_FLUSH_MS = 5_000
/** RedisCache: most keys in one coalesced MGET. */
export const DEFAULT_COALESCE_MAX_BATCH = 64
