import type { Connection, Duration } from '@cache/client'
import { zDuration } from '@cache/client'
import type { Cache, Codec, RedisCacheOptions } from '@cache/core'
import { DEFAULT_TTL_MS, MAX_TTL_MS, zTtl } from '@cache/core'
import { z } from 'zod'
import {
  DEFAULT_GRACE_MS,
  DEFAULT_HARD_TIMEOUT_MS,
  DEFAULT_L1_MAX_BYTES,
  DEFAULT_L1_MAX_ENTRIES,
  DEFAULT_L1_TTL_MS,
  DEFAULT_MAX_OFFLINE_WRITES,
  DEFAULT_OFFLINE_RETRY_MS,
  DEFAULT_SOFT_TIMEOUT_MS,
} from './defaults.js'

/** How L1 stays coherent across processes. */
export type CoherenceMode = 'tracking' | 'bus' | 'none'

/** Options of `new TieredCache(conn, options)` (the connection of the L2 tier is the first argument). */
export interface TieredCacheOptions {
  /** Namespace under the connection's namespace; scopes keys, stats, invalidations and `clear()`. @default 'cache' */
  namespace?: string
  /** TTL of entries set without one (1s–30d). @default '10m' */
  defaultTtl?: Duration
  /** The in-process tier. */
  l1?: {
    /** Most entries kept in process memory. @default 10000 */
    maxEntries?: number
    /** Byte budget of L1 (estimated sizes). @default 64 MiB */
    maxBytes?: number
    /** Longest time a value is served from L1 without asking Redis (it also never outlives the value's TTL). @default '1m' */
    ttl?: Duration
  }
  /** An optional third tier (any Cache, e.g. a RedisCache on a larger, slower deployment); hits are promoted. */
  l3?: Cache<unknown>
  /** L1 coherence: RESP2 CLIENT TRACKING (BCAST), a pub/sub bus, or none (L1 lives `l1.ttl`). @default 'tracking' */
  coherence?: CoherenceMode
  /** How long after expiry a value may still be served stale (grace / fail-safe); 0 turns it off. @default 0 */
  grace?: Duration
  /** Factory timeouts for getOrSet. */
  timeouts?: {
    /** With a stale value at hand, wait this long for the factory, then return the stale value (0: return it at once). @default 0 */
    soft?: Duration
    /** Abort the factory (its `signal`) and reject with E_FACTORY_TIMEOUT after this long; 0 turns it off. @default 0 */
    hard?: Duration
  }
  /** A getOrSet hit past this fraction of the TTL starts one background refresh (0 < x < 1). @default off */
  eagerRefresh?: number
  /** Serve stale/L1 values when the factory or Redis fails (events say so); writes go to L1 while Redis is down. @default true */
  failSafe?: boolean
  /** Writes made while Redis is unavailable: replayed on recovery ('retry') or kept in L1 only ('drop'). @default 'retry' */
  offlineWrites?: 'retry' | 'drop'
  /** Most writes queued for replay; older ones are dropped first. @default 10000 */
  maxOfflineWrites?: number
  /** How often queued writes are retried. @default '1s' */
  offlineRetryInterval?: Duration
  /** Codec of the L2 tier. @default @cache/core's default (msgpack, LZ4 ≥ 1 KiB) */
  codec?: Codec
  /**
   * Data classification of the namespace (@cache/security's labels): `confidential` and `restricted` refuse a
   * codec that does not encrypt (E_UNENCRYPTED, as a RedisCache does), and `restricted` values are never kept
   * in L1 (process memory): every read decrypts from L2. @default 'internal'
   */
  classification?: RedisCacheOptions['classification']
  /** The clock (ms since epoch), for tests. @default Date.now */
  now?: () => number
}

/** Per-call options of `getOrSet()`, on top of @cache/core's. */
export interface TieredGetOrSetOptions {
  ttl?: Duration
  tags?: readonly string[]
  dependsOn?: readonly string[]
  keepVersions?: number
  lease?: Duration
  /** Overrides the cache's `grace`. */
  grace?: Duration
  /** Overrides the cache's `timeouts`. */
  timeouts?: { soft?: Duration; hard?: Duration }
  /** Overrides the cache's `eagerRefresh` (0 turns it off). */
  eagerRefresh?: number
  /** Overrides the cache's `failSafe`. */
  failSafe?: boolean
}

/** Options of one entry loaded by `getManyOrSet()` (the `entry` callback's answer). */
export interface TieredEntryOptions {
  ttl?: Duration
  tags?: readonly string[]
  dependsOn?: readonly string[]
}

/** Per-call options of `getManyOrSet()`: those of getOrSet for every key, plus per-key options and misses. */
export interface TieredGetManyOptions<T = unknown> extends TieredGetOrSetOptions {
  /** Options of each loaded entry (its own TTL, tags, dependencies), merged over the call's. */
  entry?: (key: string, value: T) => TieredEntryOptions | undefined
  /**
   * Keys the loader did not return are remembered as absent this long (the loader is not asked again for
   * them meanwhile); off by default: a key the loader does not return is asked for again next time.
   */
  cacheMisses?: Duration
}

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', `must be ${what}`)
const graceSchema = zDuration({ min: 0, max: MAX_TTL_MS })
const timeoutSchema = zDuration({ min: 0, max: 3_600_000 })
const eagerSchema = z.number().min(0, 'must be between 0 and 1').lt(1, 'must be between 0 and 1')

export const timeoutsSchema = z
  .object({
    soft: timeoutSchema.default(DEFAULT_SOFT_TIMEOUT_MS),
    hard: timeoutSchema.default(DEFAULT_HARD_TIMEOUT_MS),
  })
  .strict()

/** The connection argument (validated as the field `connection`). */
export const connectionSchema = z.custom<Connection>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Connection).send === 'function' &&
    typeof (v as Connection).subscriber === 'function',
  'must be a Connection from @cache/client connect()',
)

export const optionsSchema = z
  .object({
    namespace: z.string().min(1, 'must not be empty').default('cache'),
    defaultTtl: zTtl().default(DEFAULT_TTL_MS),
    l1: z
      .object({
        maxEntries: z.number().int().min(1, 'must be a positive integer').default(DEFAULT_L1_MAX_ENTRIES),
        maxBytes: z.number().int().min(1, 'must be a positive integer').default(DEFAULT_L1_MAX_BYTES),
        ttl: zDuration({ min: 1, max: MAX_TTL_MS }).default(DEFAULT_L1_TTL_MS),
      })
      .strict()
      .default({
        maxEntries: DEFAULT_L1_MAX_ENTRIES,
        maxBytes: DEFAULT_L1_MAX_BYTES,
        ttl: DEFAULT_L1_TTL_MS,
      }),
    l3: z
      .custom<Cache<unknown>>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as Cache).get === 'function' &&
          typeof (v as Cache).set === 'function',
        'must be a Cache (get/set/delete…)',
      )
      .optional(),
    coherence: z.enum(['tracking', 'bus', 'none']).default('tracking'),
    grace: graceSchema.default(DEFAULT_GRACE_MS),
    timeouts: timeoutsSchema.default({ soft: DEFAULT_SOFT_TIMEOUT_MS, hard: DEFAULT_HARD_TIMEOUT_MS }),
    eagerRefresh: eagerSchema.default(0),
    failSafe: z.boolean().default(true),
    offlineWrites: z.enum(['retry', 'drop']).default('retry'),
    maxOfflineWrites: z.number().int().min(0).default(DEFAULT_MAX_OFFLINE_WRITES),
    offlineRetryInterval: zDuration({ min: 10, max: 3_600_000 }).default(DEFAULT_OFFLINE_RETRY_MS),
    codec: z.custom<Codec>((v) => typeof v === 'object' && v !== null, 'must be a codec').optional(),
    classification: z.enum(['public', 'internal', 'confidential', 'restricted']).default('internal'),
    now: fn<() => number>('a function returning ms').optional(),
  })
  .strict()

/** The resolved, frozen options. */
export type ResolvedTieredOptions = z.output<typeof optionsSchema>

export const callSchema = z
  .object({
    grace: graceSchema.optional(),
    timeouts: z
      .object({ soft: timeoutSchema.optional(), hard: timeoutSchema.optional() })
      .strict()
      .optional(),
    eagerRefresh: eagerSchema.optional(),
    failSafe: z.boolean().optional(),
  })
  .passthrough()

export const manySchema = z
  .object({
    entry: fn<(key: string, value: unknown) => TieredEntryOptions | undefined>('a function').optional(),
    cacheMisses: zDuration({ min: 1, max: MAX_TTL_MS }).optional(),
    lease: zDuration({ min: 100, max: 300_000 }).optional(),
  })
  .passthrough()
