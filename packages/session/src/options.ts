import { type Duration, InvalidArgumentError, parseOptions, zDuration } from '@cache/client'
import { KeyedHash, Keyring } from '@cache/security'
import { z } from 'zod'
import * as D from './defaults.js'
import type { EngineConfig } from './engine-types.js'
import { FieldCipher } from './field-cipher.js'
import { HASH_CONTEXT, type HashKey, keyedHasher } from './hash.js'

/** Options of `new SessionManager(conn, options)`. */
export interface SessionManagerOptions {
  /** Key namespace under the connection's namespace. @default 'sess' */
  namespace?: string
  /** A session not used for this long expires (Redis TTL, enforced by the server). @default '30m' */
  idleTimeout?: Duration
  /** A session expires this long after creation however active it is. @default '12h' */
  absoluteTimeout?: Duration
  /** Keep at most this many sessions per user; creating one more evicts the oldest. @default unlimited */
  maxPerUser?: number
  /**
   * Encrypts session data and meta at rest (AES-256-GCM through @cache/security, AAD bound to the session's
   * key and field). Without `hashKey`, ids are also hashed with a key derived from this keyring's primary.
   * @default none (plaintext JSON)
   */
  encryption?: Keyring
  /**
   * Key of the keyed hash (HMAC-SHA-256, security's KeyedHash) that turns ids into Redis keys: a KeyedHash
   * (pin its `keyId` so a keyring rotation keeps every handle) or a secret of 16+ characters or bytes.
   * @default the `encryption` keyring's primary key, else SHA-256 without a key
   */
  hashKey?: HashKey
  /** Largest session data, in bytes of JSON. @default 65536 */
  maxDataBytes?: number
  /** Compare-and-set attempts of `update()` before E_SESSION_CONFLICT. @default 20 */
  maxRetries?: number
  /**
   * How often the per-user indexes are swept of sessions that expired (one process of the fleet per
   * interval, through a lease); `false` turns the periodic sweep off (`sweep()` still works). @default '1m'
   */
  sweepInterval?: Duration | false
  /** Per-user indexes visited per sweep (bounded work per tick). @default 100 */
  sweepBatch?: number
  /**
   * Most sessions whose decoded value this process keeps, so that reading a session again (or after a
   * chunk was appended) replays only what changed instead of parsing (and decrypting) the whole value.
   * `0` keeps none: every read decodes in full, with the same results. @default 10000
   */
  cacheSize?: number
  /**
   * Most bytes the kept decoded values may take (an upper estimate of their heap: 2 bytes a character of
   * the stored value and of each field's JSON, plus a fixed overhead per value and field); never passed,
   * the oldest half is dropped first. A value larger than half of this is not kept. `0` keeps none.
   * @default 33554432 (32 MiB)
   */
  cacheBytes?: number
}

const namespace = z
  .string()
  .regex(/^[A-Za-z0-9._\-@/=+,;!$&()']+(:[A-Za-z0-9._\-@/=+,;!$&()']+)*$/, {
    message: "must be ':'-separated parts of letters, digits and ._-@/=+,;!$&()'",
  })
  .max(128)
  .default(D.DEFAULT_NAMESPACE)

/** A @cache/security Keyring. */
export const zKeyring = z.custom<Keyring>((v) => v instanceof Keyring, {
  message: 'must be a Keyring from @cache/security',
})

/** A secret (16+ characters, or bytes) or a @cache/security KeyedHash. */
export const zHashKey = z.union([
  z.string().min(16),
  z.instanceof(Buffer),
  z.custom<KeyedHash>((v) => v instanceof KeyedHash, {
    message: 'must be a secret of 16+ characters, a Buffer or a KeyedHash',
  }),
])

/** `sweepInterval`: a duration from 100ms to a day, or false. */
export const zSweepInterval = z
  .union([z.literal(false), zDuration({ min: 100, max: 86_400_000 })])
  .default(D.DEFAULT_SWEEP_INTERVAL_MS)

/** `sweepBatch`: indexes per sweep. */
export const zSweepBatch = z.number().int().min(1).max(10_000).default(D.DEFAULT_SWEEP_BATCH)

/** `cacheSize`: decoded values kept (0: none). */
export const zCacheSize = z.number().int().min(0).max(10_000_000).default(D.DEFAULT_CACHE_SIZE)
/** `cacheBytes`: bytes of decoded values kept (0: none). */
export const zCacheBytes = z
  .number()
  .int()
  .min(0)
  .max(2 ** 40)
  .default(D.DEFAULT_CACHE_BYTES)

/** The storage settings of a SessionEngine from resolved options. */
export function engineConfig(o: {
  namespace: string
  hashKey?: HashKey | undefined
  encryption?: Keyring | undefined
  maxDataBytes: number
  cacheSize: number
  cacheBytes: number
}): EngineConfig {
  return {
    namespace: o.namespace,
    hash: keyedHasher(o.hashKey, HASH_CONTEXT.session, o.encryption),
    cipher: o.encryption ? new FieldCipher(o.encryption) : undefined,
    maxDataBytes: o.maxDataBytes,
    cacheSize: o.cacheSize,
    cacheBytes: o.cacheBytes,
  }
}

/** zod schema of SessionManagerOptions. */
export const managerSchema = z
  .object({
    namespace,
    idleTimeout: zDuration({ min: 1, max: D.MAX_TIMEOUT_MS }).default(D.DEFAULT_IDLE_TIMEOUT_MS),
    absoluteTimeout: zDuration({ min: 1, max: D.MAX_TIMEOUT_MS }).default(D.DEFAULT_ABSOLUTE_TIMEOUT_MS),
    maxPerUser: z.number().int().min(1).max(100_000).optional(),
    encryption: zKeyring.optional(),
    hashKey: zHashKey.optional(),
    maxDataBytes: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .default(D.DEFAULT_MAX_DATA_BYTES),
    maxRetries: z.number().int().min(1).max(1000).default(D.DEFAULT_MAX_RETRIES),
    sweepInterval: zSweepInterval,
    sweepBatch: zSweepBatch,
    cacheSize: zCacheSize,
    cacheBytes: zCacheBytes,
  })
  .strict()

/** Resolved SessionManagerOptions. */
export type ResolvedManager = z.output<typeof managerSchema>

/** Validates and defaults SessionManagerOptions (E_INVALID_OPTION). */
export function resolveManager(options: SessionManagerOptions | undefined): ResolvedManager {
  return parseOptions(D.PKG, managerSchema, options)
}

/** Checks a tenant id (E_INVALID_ARGUMENT). */
export function checkTenant(tenant: unknown, field = 'tenant'): string {
  if (typeof tenant !== 'string' || !D.TENANT_PATTERN.test(tenant)) {
    throw new InvalidArgumentError(D.PKG, field, 'must be 1-64 letters, digits or ._-')
  }
  return tenant
}

/** Checks a user id (E_INVALID_ARGUMENT). */
export function checkUser(userId: unknown, field = 'userId'): string {
  if (typeof userId !== 'string' || userId.length < 1 || userId.length > 256) {
    throw new InvalidArgumentError(D.PKG, field, 'must be a string of 1-256 characters')
  }
  return userId
}

/** Checks a session id's shape (E_INVALID_ARGUMENT). */
export function checkId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || id.length < 1 || id.length > 256) {
    throw new InvalidArgumentError(D.PKG, field, 'must be a session id string')
  }
  return id
}
