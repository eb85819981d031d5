/** Defaults of @cache/integrations, in one place. */
export const PKG = '@cache/integrations'
/** Freshness of a response whose Cache-Control gives no max-age / s-maxage. */
export const DEFAULT_RESPONSE_TTL_MS = 60_000
/** Statuses worth storing (RFC 9111 heuristically cacheable statuses that apps return). */
export const DEFAULT_CACHEABLE_STATUSES: readonly number[] = [200, 203, 204, 300, 301, 404, 410]
/** How long one request may take to produce a response others wait for. */
export const DEFAULT_RESPONSE_LEASE_MS = 10_000
/** The response header a handler names its cache tags in (stripped before the response leaves). */
export const DEFAULT_TAG_HEADER = 'cache-tag'
/** The response header telling whether the response came from the cache. */
export const DEFAULT_STATUS_HEADER = 'x-cache'
/** Largest response body stored. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** Shortest lifetime of a stored entry (the family's minimum TTL). */
export const MIN_ENTRY_MS = 1_000
/** Longest lifetime of a stored entry (the family's maximum TTL). */
export const MAX_ENTRY_MS = 30 * 86_400_000
