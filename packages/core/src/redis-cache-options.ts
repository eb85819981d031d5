import { type Duration, zDuration } from '@cache/client'
import { z } from 'zod'
import { CLASSIFICATIONS, type Classification, checkClassification } from './classification.js'
import type { Codec } from './codec.js'
import {
  DEFAULT_COALESCE_MAX_BATCH,
  DEFAULT_LEASE_POLL_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_STATS_FLUSH_MS,
  DEFAULT_TTL_MS,
} from './defaults.js'
import { zTtl } from './ttl.js'

/** Options of `new RedisCache(conn, options)`. */
export interface RedisCacheOptions {
  /** Namespace under the connection's root namespace; scopes keys, stats and `clear()`. @default 'cache' */
  namespace?: string
  /** TTL of entries set without one (1s–30d). @default '10m' */
  defaultTtl?: Duration
  /** Serialises values; any codec reads any other's values. @default createCodec() (msgpack, LZ4 ≥ 1 KiB) */
  codec?: Codec
  /** Largest encoded value stored; larger ones are refused with E_VALUE_TOO_LARGE. @default 16 MiB */
  maxValueBytes?: number
  /** Coalesce single-key reads issued in the same tick into one MGET (per slot on a cluster). @default true */
  coalesce?: boolean
  /** Most keys in one coalesced MGET; larger same-tick batches are split (measured: splitting into smaller MGETs did not help). @default 64 */
  coalesceMaxBatch?: number
  /** getOrSet: length of the cross-process lease (renewed while the factory runs). @default '10s' */
  lease?: Duration
  /** getOrSet: longest wait between two checks when no notification arrives (jittered). @default '200ms' */
  leasePoll?: Duration
  /** Also add counters to a hash in Redis shared by every process (`sharedStats()`). @default false */
  sharedStats?: boolean
  /** How often local counters are added to the shared hash. @default '5s' */
  statsFlushInterval?: Duration
  /** Data classification: `confidential` and `restricted` refuse a codec that does not encrypt (E_UNENCRYPTED). @default 'internal' */
  classification?: Classification
  /**
   * Publish every key read on `cache:core:get`. Off for a cache wrapped by another that reports the read itself
   * (a TieredCache's L2, whose reads it publishes on `cache:tiered:get`), so metrics count one read once.
   * @default true
   */
  publishReads?: boolean
}

const NAMESPACE = /^[A-Za-z0-9._\-@/=+,;!$&()']+$/

export const schema = z
  .object({
    namespace: z
      .string()
      .regex(NAMESPACE, "must be letters, digits and ._-@/=+,;!$&()'")
      .max(128)
      .default('cache'),
    defaultTtl: zTtl().default(DEFAULT_TTL_MS),
    codec: z
      .custom<Codec>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as Codec).encode === 'function' &&
          typeof (v as Codec).decode === 'function',
        'must be a codec (createCodec())',
      )
      .optional(),
    maxValueBytes: z.number().int().min(1, 'must be a positive integer').default(DEFAULT_MAX_VALUE_BYTES),
    coalesce: z.boolean().default(true),
    coalesceMaxBatch: z.number().int().min(1).max(10_000).default(DEFAULT_COALESCE_MAX_BATCH),
    lease: zDuration({ min: 100, max: 300_000 }).default(DEFAULT_LEASE_TTL_MS),
    leasePoll: zDuration({ min: 5, max: 60_000 }).default(DEFAULT_LEASE_POLL_MS),
    sharedStats: z.boolean().default(false),
    statsFlushInterval: zDuration({ min: 100, max: 3_600_000 }).default(DEFAULT_STATS_FLUSH_MS),
    classification: z.enum(CLASSIFICATIONS).default('internal'),
    publishReads: z.boolean().default(true),
  })
  .strict()
  .transform((o) => {
    checkClassification(o.namespace, o.classification, o.codec)
    return o
  })

export type Resolved = z.output<typeof schema>
