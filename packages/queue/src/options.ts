import { randomUUID } from 'node:crypto'
import { type Duration, parseOptions, zDuration } from '@cache/client'
import type { JobsOptions, KeepJobs } from 'bullmq'
import { z } from 'zod'
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_DELAY_MS,
  DEFAULT_BACKOFF_JITTER,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_FAIRNESS_QUANTUM,
  DEFAULT_FAIRNESS_WINDOW_MS,
  DEFAULT_NAMESPACE,
  DEFAULT_REMOVE_ON_COMPLETE,
  DEFAULT_REMOVE_ON_FAIL,
  DEFAULT_ZOMBIE_GRACE_MS,
  MAX_CONCURRENCY,
} from './defaults.js'
import type { ResolvedDurability } from './durability.js'

export const PKG = '@cache/queue'
const DAY = 86_400_000
const NAME = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: "must be 1–64 letters, digits or '._-'" })

/** Zod schemas by job name. */
export type JobDefinition = Record<string, z.ZodType>

/** How long finished jobs are kept: `true` removes at once, `false` keeps all (unbounded), a count, or both limits. */
export type Retention = boolean | number | { age?: Duration; count?: number }

/** Retry delays: exponential (`delay × 2^retry`, capped at `max`) or fixed, with a symmetric jitter. */
export interface BackoffOptions {
  /** @default 'exponential' */
  type?: 'exponential' | 'fixed'
  /** The first retry's delay. @default '1s' */
  delay?: Duration
  /** Spread as a fraction of the delay, 0..1. @default 0.2 */
  jitter?: number
  /** Cap of the exponential growth. @default '1h' */
  max?: Duration
}

/** Default options of every job of a queue. */
export interface JobDefaults {
  /** Attempts before the job goes to the dead-letter queue (1 = no retry). @default 3 */
  attempts?: number
  /** Retry delays. @default { type: 'exponential', delay: '1s', jitter: 0.2, max: '1h' } */
  backoff?: BackoffOptions
  /** An attempt running longer is aborted and fails with E_JOB_TIMEOUT. @default no timeout */
  timeout?: Duration
  /** Completed jobs kept. @default { age: '1d', count: 10_000 } */
  removeOnComplete?: Retention
  /** Failed jobs kept (the dead-letter queue holds their copy). @default { age: '7d', count: 10_000 } */
  removeOnFail?: Retention
}

/** Options of `defineQueue(conn, name, options)`. */
export interface QueueOptions<J extends JobDefinition> {
  /** Scope of the queue's keys, under the connection's namespace. @default 'queue' */
  namespace?: string
  /** A zod schema per job name. */
  jobs: J
  /** Default options of every job. */
  defaults?: JobDefaults
  /**
   * When a job goes to the dead-letter queue: after its last attempt (`'attempts'`), and at once for an
   * error `nonRetryable` accepts (BullMQ's UnrecoverableError and schema-invalid data always do).
   * @default { after: 'attempts' }
   */
  deadLetter?: { after?: 'attempts'; nonRetryable?: (error: unknown) => boolean }
  /**
   * Fair ordering of tenants' jobs (added with a `tenant` and no `priority`): the n-th job a tenant adds
   * in `window` gets BullMQ priority 1 + ⌊(n − 1) / quantum⌋, so a tenant that adds 10,000 jobs at once
   * does not put them all ahead of another tenant's next job. `false` keeps plain FIFO.
   * @default { quantum: 100, window: '1m' }
   */
  fairness?: false | { quantum?: number; window?: Duration }
  /** Check `maxmemory-policy` and retention at start, warning on `cache:queue:warning` and the logger. @default true */
  checks?: boolean
  /** Where warnings are logged. @default console */
  logger?: { warn(message: string): void }
  /**
   * How long a producer call (`add`, `addBulk`, `schedule`, `stats`) waits for Redis, connecting included,
   * before it fails with E_UNAVAILABLE: a killed, paused or unreachable server fails calls fast instead of
   * queueing them without bound. A timed-out command may still run once the server is back (re-add under
   * the same `jobId`). The dead-letter calls' commands time out too (ioredis' error, not mapped yet).
   * Workers are not affected.
   * @default '5s'
   */
  commandTimeout?: Duration
  /**
   * Acknowledge `add` / `addBulk` only once `replicas` replicas have the job(s): a WAIT after the add on
   * the job's node, for up to `timeout`; fewer replicas → NotReplicatedError (E_NOT_REPLICATED, the job
   * ids in `ids`). Replication is asynchronous otherwise: a master that fails over before replicating
   * loses its last acknowledged adds. `timeout` must be below `commandTimeout`. @default off
   */
  durability?: { replicas: number; timeout: Duration }
}

/** Options of one `add()`. */
export interface AddOptions {
  /** BullMQ priority: 1 is the highest, 0 (default) no priority. */
  priority?: number
  /** Wait this long before the job may run. */
  delay?: Duration
  /** A custom job id (adding an id that exists is a no-op). Not an integer, no ':'. */
  jobId?: string
  /** The tenant the job belongs to, for `perTenant` limits. */
  tenant?: string
  /** Overrides the queue's attempts. */
  attempts?: number
  /** Overrides the queue's timeout. */
  timeout?: Duration
}

/** Options of `queue.process(handlers, options)`. */
export interface ProcessOptions {
  /** Jobs this worker runs at once. @default 1 */
  concurrency?: number
  /**
   * Limits per tenant (the job's `tenant` option) across every worker: `limit` jobs per `window`, and
   * `concurrency` jobs at once. A job over a limit is delayed until it may run, not failed.
   */
  perTenant?: { limit?: number; window?: Duration; concurrency?: number }
  /** After a timeout, how long the processor may take to stop before it is reported a zombie. @default '1s' */
  zombieGrace?: Duration
  /** BullMQ's job lock: a worker that does not renew it (crashed, blocked) loses its jobs. @default '30s' */
  lockDuration?: Duration
  /** How often stalled jobs (a lost lock) are looked for. @default '30s' */
  stalledInterval?: Duration
  /** Times a job may stall before it fails (and goes to the dead-letter queue). @default 1 */
  maxStalledCount?: number
  /** The worker's name, stored on the jobs it processes. */
  id?: string
}

const zRetention = z.union([
  z.boolean(),
  z.number().int().min(0),
  z
    .strictObject({
      age: zDuration({ min: 1000, max: 3650 * DAY }).optional(),
      count: z.number().int().min(0).optional(),
    })
    .refine((r) => r.age !== undefined || r.count !== undefined, { message: 'must set age or count' }),
])

const zBackoff = z.strictObject({
  type: z.enum(['exponential', 'fixed']).optional(),
  delay: zDuration({ min: 1, max: 30 * DAY }).optional(),
  jitter: z.number().min(0).max(1).optional(),
  max: zDuration({ min: 1, max: 30 * DAY }).optional(),
})

const zFunction = <T>() => z.custom<T>((v) => typeof v === 'function', { message: 'must be a function' })

const queueSchema = z
  .strictObject({
    namespace: NAME.optional(),
    jobs: z.record(
      z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, { message: "must be 1–128 letters, digits or '._-'" }),
      z.custom<z.ZodType>((v) => typeof (v as z.ZodType | undefined)?.safeParse === 'function', {
        message: 'must be a zod schema',
      }),
    ),
    defaults: z
      .strictObject({
        attempts: z.number().int().min(1).max(1000).optional(),
        backoff: zBackoff.optional(),
        timeout: zDuration({ min: 1, max: DAY }).optional(),
        removeOnComplete: zRetention.optional(),
        removeOnFail: zRetention.optional(),
      })
      .optional(),
    deadLetter: z
      .strictObject({
        after: z.literal('attempts').optional(),
        nonRetryable: zFunction<(error: unknown) => boolean>().optional(),
      })
      .optional(),
    fairness: z
      .union([
        z.literal(false),
        z.strictObject({
          quantum: z.number().int().min(1).max(1_000_000).optional(),
          window: zDuration({ min: 1000, max: DAY }).optional(),
        }),
      ])
      .optional(),
    checks: z.boolean().optional(),
    commandTimeout: zDuration({ min: 10, max: 10 * 60_000 }).optional(),
    durability: z
      .strictObject({
        replicas: z.number().int().min(1).max(64),
        timeout: zDuration({ min: 1, max: 60_000 }),
      })
      .optional(),
    logger: z
      .custom<{ warn(m: string): void }>((v) => typeof (v as { warn?: unknown })?.warn === 'function', {
        message: 'must have a warn(message) method',
      })
      .optional(),
  })
  .refine((o) => !o.durability || o.durability.timeout < (o.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS), {
    message: 'durability.timeout must be below commandTimeout',
    path: ['durability', 'timeout'],
  })

const addSchema = z.strictObject({
  priority: z
    .number()
    .int()
    .min(0)
    .max(2 ** 21)
    .optional(),
  delay: zDuration({ min: 0, max: 3650 * DAY }).optional(),
  jobId: z
    .string()
    .min(1)
    .max(256)
    .refine((s) => !s.includes(':') && !/^\d+$/.test(s), { message: "must not be an integer or contain ':'" })
    .optional(),
  tenant: z.string().min(1).max(256).optional(),
  attempts: z.number().int().min(1).max(1000).optional(),
  timeout: zDuration({ min: 1, max: DAY }).optional(),
})

const processSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
  perTenant: z
    .strictObject({
      limit: z.number().int().min(1).max(1_000_000_000).optional(),
      window: zDuration({ min: 1, max: 30 * DAY }).optional(),
      concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
    })
    .refine((p) => p.limit !== undefined || p.concurrency !== undefined, {
      message: 'must set limit (with window) or concurrency',
    })
    .refine((p) => (p.limit === undefined) === (p.window === undefined), {
      message: 'must set limit and window together',
    })
    .optional(),
  zombieGrace: zDuration({ min: 0, max: DAY }).optional(),
  lockDuration: zDuration({ min: 100, max: DAY }).optional(),
  stalledInterval: zDuration({ min: 100, max: DAY }).optional(),
  maxStalledCount: z.number().int().min(0).max(1000).optional(),
  id: z.string().min(1).max(256).optional(),
})

/** Queue options resolved to numbers and BullMQ's shapes. @internal */
export interface ResolvedQueueOptions {
  namespace: string
  jobs: JobDefinition
  attempts: number
  backoff: { type: 'exponential' | 'fixed'; delayMs: number; jitter: number; maxMs: number }
  timeoutMs: number | undefined
  removeOnComplete: boolean | KeepJobs
  removeOnFail: boolean | KeepJobs
  nonRetryable: (error: unknown) => boolean
  fairness: { quantum: number; windowMs: number } | false
  checks: boolean
  logger: { warn(message: string): void }
  commandTimeoutMs: number
  durability: ResolvedDurability | undefined
}

/** The BullMQ backoff type names of @cache/queue's strategies (computed by @cache/client's `backoff`). */
export const BACKOFF_TYPES = { exponential: 'cache-exponential', fixed: 'cache-fixed' } as const

function keep(
  r: z.output<typeof zRetention> | undefined,
  fallback: { ageMs: number; count: number },
): boolean | KeepJobs {
  if (r === undefined) return { age: Math.ceil(fallback.ageMs / 1000), count: fallback.count }
  if (typeof r === 'boolean') return r
  if (typeof r === 'number') return { count: r }
  if (r.age === undefined) return { count: r.count as number }
  return { age: Math.ceil(r.age / 1000), ...(r.count !== undefined && { count: r.count }) }
}

/** Validates and resolves the options of `defineQueue`. @internal */
export function resolveQueueOptions(input: unknown): Readonly<ResolvedQueueOptions> {
  const o = parseOptions(PKG, queueSchema, input)
  const d = o.defaults ?? {}
  return Object.freeze({
    namespace: o.namespace ?? DEFAULT_NAMESPACE,
    jobs: o.jobs,
    attempts: d.attempts ?? DEFAULT_ATTEMPTS,
    backoff: Object.freeze({
      type: d.backoff?.type ?? 'exponential',
      delayMs: d.backoff?.delay ?? DEFAULT_BACKOFF_DELAY_MS,
      jitter: d.backoff?.jitter ?? DEFAULT_BACKOFF_JITTER,
      maxMs: d.backoff?.max ?? DEFAULT_BACKOFF_MAX_MS,
    }),
    timeoutMs: d.timeout,
    removeOnComplete: keep(d.removeOnComplete, DEFAULT_REMOVE_ON_COMPLETE),
    removeOnFail: keep(d.removeOnFail, DEFAULT_REMOVE_ON_FAIL),
    nonRetryable: o.deadLetter?.nonRetryable ?? (() => false),
    fairness:
      o.fairness === false
        ? false
        : Object.freeze({
            quantum: o.fairness?.quantum ?? DEFAULT_FAIRNESS_QUANTUM,
            windowMs: o.fairness?.window ?? DEFAULT_FAIRNESS_WINDOW_MS,
          }),
    checks: o.checks ?? true,
    logger: o.logger ?? console,
    commandTimeoutMs: o.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
    durability:
      o.durability && Object.freeze({ replicas: o.durability.replicas, timeoutMs: o.durability.timeout }),
  })
}

/** BullMQ's default job options of a resolved queue. @internal */
export function defaultJobOptions(o: ResolvedQueueOptions): JobsOptions {
  return {
    attempts: o.attempts,
    backoff: { type: BACKOFF_TYPES[o.backoff.type], delay: o.backoff.delayMs, jitter: o.backoff.jitter },
    removeOnComplete: o.removeOnComplete,
    removeOnFail: o.removeOnFail,
  }
}

/** The extra fields @cache/queue keeps in a job's BullMQ options. */
export interface CacheJobOptions {
  tenant?: string
  timeoutMs?: number
}

/**
 * The id of a job added without one: random, never BullMQ's counter. The counter lives in Redis, so a
 * Sentinel failover that loses the old master's last writes winds it back and the new master hands the
 * same ids out again, to other jobs (a dead letter `dead-<id>` of one would then hide the other's, and a
 * handler keyed by job id would skip the second job as done). @internal
 */
export function newJobId(): string {
  return randomUUID()
}

/** Validates `add()` options and maps them to BullMQ's; a job gets a `newJobId()` unless it names one. @internal */
export function toJobOptions(
  input: AddOptions | undefined,
  field = 'options',
): JobsOptions & CacheJobOptions {
  if (input === undefined) return { jobId: newJobId() }
  const o = parseOptions(PKG, addSchema, input, field)
  const out: JobsOptions & CacheJobOptions = { jobId: o.jobId ?? newJobId() }
  if (o.priority !== undefined) out.priority = o.priority
  if (o.delay !== undefined) out.delay = o.delay
  if (o.attempts !== undefined) out.attempts = o.attempts
  if (o.tenant !== undefined) out.tenant = o.tenant
  if (o.timeout !== undefined) out.timeoutMs = o.timeout
  return out
}

/** Worker options resolved. @internal */
export interface ResolvedProcessOptions {
  concurrency: number
  perTenant: { limit?: number; windowMs?: number; concurrency?: number } | undefined
  zombieGraceMs: number
  lockDurationMs: number | undefined
  stalledIntervalMs: number | undefined
  maxStalledCount: number | undefined
  id: string | undefined
}

/** Validates and resolves the options of `process()`. @internal */
export function resolveProcessOptions(input: unknown): Readonly<ResolvedProcessOptions> {
  const o = parseOptions(PKG, processSchema, input)
  return Object.freeze({
    concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
    perTenant: o.perTenant && {
      limit: o.perTenant.limit,
      windowMs: o.perTenant.window,
      concurrency: o.perTenant.concurrency,
    },
    zombieGraceMs: o.zombieGrace ?? DEFAULT_ZOMBIE_GRACE_MS,
    lockDurationMs: o.lockDuration,
    stalledIntervalMs: o.stalledInterval,
    maxStalledCount: o.maxStalledCount,
    id: o.id,
  })
}
