/** Package name used at the start of every message. */
export const PKG = '@cache/security'
/** Length of an AES-256 key in bytes. */
export const KEY_BYTES = 32
/** Length of the random AES-GCM nonce in bytes. */
export const NONCE_BYTES = 12
/** Length of the AES-GCM authentication tag in bytes. */
export const TAG_BYTES = 16
/** First byte of every encrypted value (the plain codec of @cache/core writes 0xca). */
export const CIPHER_MAGIC = 0xce
/** Format version of the ciphertext layout. */
export const CIPHER_VERSION = 1
/** Initial size of an encryption codec's AAD scratch buffer (header + full Redis key); it grows for longer keys. */
export const AAD_SCRATCH_BYTES = 1024
/** Longest key id, in bytes. */
export const MAX_KEY_ID_BYTES = 64
/** Environment variable read by `Keyring.fromEnv()`. */
export const KEYRING_ENV = 'CACHE_KEYRING'
/** What `redact()` puts in place of a secret. */
export const REDACTED = '[redacted]'
/**
 * AES-GCM with random 96-bit nonces: NIST SP 800-38D caps one key at 2^32 encryptions (collision chance
 * ≤ 2^-32). `cache:security:key-usage` warns from 2^28 (1/16 of that) and every further 2^28, leaving time
 * to rotate.
 */
export const NONCE_BUDGET = 2 ** 32
/** First warning of `KeyUsageCounter`. */
export const DEFAULT_USAGE_WARN_AT = 2 ** 28
/** How often `KeyUsageCounter` adds local counts to Redis. */
export const DEFAULT_USAGE_FLUSH_INTERVAL = 5_000
