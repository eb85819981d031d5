/** Defaults of @cache/session options, in one place. */
export const PKG = '@cache/session'
export const DEFAULT_NAMESPACE = 'sess'
export const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000
export const DEFAULT_ABSOLUTE_TIMEOUT_MS = 12 * 3_600_000
export const MAX_TIMEOUT_MS = 400 * 86_400_000
/** Random bytes of a session id: 16 bytes = 128 bits, 22 base64url characters. */
export const ID_BYTES = 16
/** Largest serialized session data (sum of the JSON of its fields). */
export const DEFAULT_MAX_DATA_BYTES = 64 * 1024
/** Compare-and-set attempts of `update()` before E_SESSION_CONFLICT. */
export const DEFAULT_MAX_RETRIES = 20
/** Tenant ids: letters, digits and `._-`, 1 to 64 characters. */
export const TENANT_PATTERN = /^[A-Za-z0-9._-]{1,64}$/
/** Snapshots of loaded sessions the express-session store keeps for the field merge. */
export const DEFAULT_SNAPSHOTS = 10_000
/** A session handle: the keyed hash of its id, 32 bytes base64url. */
export const HANDLE_PATTERN = /^[A-Za-z0-9_-]{43}$/
/** Period of the per-user index sweep. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000
/** Per-user indexes visited per sweep. */
export const DEFAULT_SWEEP_BATCH = 100
/**
 * Most a tenant's live-set score runs ahead of a session's expiry (idle / 10 below that): a touch or write
 * updates the live set only once the expiry passes the score written last, not on every request.
 */
export const LIVE_SLACK_MAX_MS = 60_000
/** Decoded session values a store keeps (`cacheSize`). */
export const DEFAULT_CACHE_SIZE = 10_000
/** Bytes of decoded session values a store keeps (`cacheBytes`): 32 MiB. */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
/** `touchAfter` of the express-session store: every touch and unchanged save is written. */
export const DEFAULT_TOUCH_AFTER_MS = 0
