/** Defaults of @cache/events options, in one place. */

/** Handlers of one consumer running at once. */
export const DEFAULT_CONCURRENCY = 16
/** Entries asked for by one XREADGROUP (never more than free handler slots). */
export const DEFAULT_BATCH = 32
/** How long one XREADGROUP blocks waiting for new entries. */
export const DEFAULT_BLOCK_MS = 2_000
/** A pending entry idle this long belongs to a consumer presumed dead (or a failed handler): reclaim it. */
export const DEFAULT_CLAIM_IDLE_MS = 30_000
/** Deliveries of one entry before it goes to the dead-letter stream. */
export const DEFAULT_MAX_DELIVERIES = 5
/** Entries kept in a dead-letter stream (approximate MAXLEN). */
export const DEFAULT_DEAD_LETTER_MAX_LEN = 10_000
/** Longest error message stored with a dead letter. */
export const MAX_DEAD_LETTER_ERROR_LENGTH = 500
/** Wire format version of the envelope. */
export const ENVELOPE_VERSION = 1
/** How long a presence entry lives without a heartbeat. */
export const DEFAULT_PRESENCE_TTL_MS = 30_000
/** Upper bound of a presence TTL. */
export const MAX_PRESENCE_TTL_MS = 86_400_000
/** Consumer back-off after a failed read, doubled up to MAX_READ_BACKOFF_MS. */
export const READ_BACKOFF_MS = 100
/** Longest back-off between failed reads. */
export const MAX_READ_BACKOFF_MS = 2_000
/** Events `appendMany` writes per script call (atomic: a larger chunk holds the server longer). */
export const APPEND_CHUNK = 500
