import { type Duration, zDuration } from '@cache/client'
import { z } from 'zod'
import * as D from './defaults.js'

/** Options of `stream.consume()`. Durations take milliseconds or strings like `'30s'`. */
export interface ConsumerOptions {
  /** The consumer group; created on demand (XGROUP CREATE … MKSTREAM). */
  group: string
  /** This consumer's name in the group. @default `hostname-pid-random` */
  consumer?: string
  /** Handlers running at once; the consumer stops reading while all are busy. @default 16 */
  concurrency?: number
  /** Most entries asked for by one read (never more than free slots). @default 32 */
  batch?: number
  /** How long one XREADGROUP blocks waiting for entries. @default 2000 */
  blockMs?: Duration
  /** A delivery pending this long (crashed consumer, failed handler) is reclaimed with XAUTOCLAIM. Must exceed your slowest handler. @default 30000 */
  claimIdleMs?: Duration
  /** Deliveries of one entry before it goes to the dead-letter stream. @default 5 */
  maxDeliveries?: number
  /** Where a new group starts: `'0'` (the whole stream), `'$'` (only new entries) or an id. @default '0' */
  startId?: string
}

/** What a handler learns about the event besides its payload. */
export interface EventContext {
  /** The entry's stream id. */
  id: string
  /** 1 on the first delivery; more when the event is retried or was reclaimed from a crashed consumer. */
  deliveries: number
  stream: string
  group: string
  consumer: string
}

/** Handles one event; the event is acknowledged when it resolves, retried when it throws. */
export type EventHandler<T> = (event: T, ctx: EventContext) => void | Promise<void>

/** Counters of one consumer. */
export interface ConsumerStats {
  /** Entries read with XREADGROUP. */
  read: number
  /** Entries reclaimed with XAUTOCLAIM (including retries of this consumer's own failures). */
  claimed: number
  /** Handlers that succeeded. */
  processed: number
  /** Entries acknowledged (XACK). */
  acked: number
  /** Handlers that threw. */
  failed: number
  /** Entries moved to the dead-letter stream by this consumer. */
  deadLettered: number
  /** Entries that failed the schema (never given to the handler). */
  invalid: number
  /** Handlers running now. */
  inFlight: number
}

const ID = /^(\$|0|\d+(-\d+)?)$/

export const optionsSchema = z
  .object({
    group: z.string().min(1, 'must be a non-empty string'),
    consumer: z.string().min(1, 'must be a non-empty string').optional(),
    concurrency: z
      .number()
      .int()
      .min(1, 'must be between 1 and 10000')
      .max(10_000, 'must be between 1 and 10000')
      .default(D.DEFAULT_CONCURRENCY),
    batch: z
      .number()
      .int()
      .min(1, 'must be between 1 and 10000')
      .max(10_000, 'must be between 1 and 10000')
      .default(D.DEFAULT_BATCH),
    blockMs: zDuration({ min: 1, max: 3_600_000 }).default(D.DEFAULT_BLOCK_MS),
    claimIdleMs: zDuration({ min: 1, max: 7 * 86_400_000 }).default(D.DEFAULT_CLAIM_IDLE_MS),
    maxDeliveries: z
      .number()
      .int()
      .min(1, 'must be between 1 and 1000')
      .max(1000, 'must be between 1 and 1000')
      .default(D.DEFAULT_MAX_DELIVERIES),
    startId: z.string().regex(ID, "must be '0', '$' or a stream id").default('0'),
  })
  .strict()

export type Resolved = z.output<typeof optionsSchema>
