import {
  type Connection,
  type Duration,
  InvalidArgumentError,
  isCacheError,
  LatencyRing,
  type LatencySummary,
  parseOptions,
  zDuration,
} from '@cache/client'
import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq'
import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import { type CapacityPlan, workersNeeded } from './capacity.js'
import { type QueueWarning, startupChecks } from './checks.js'
import { ioredisConnection } from './connection.js'
import { DeadLetters } from './dead-letters.js'
import { guarded, type ProducerDeadline, producerDeadline } from './deadline.js'
import { DEFAULT_LATENCY_SAMPLES, DEFAULT_REPLAY_DEDUP_MS, MAX_PRIORITY } from './defaults.js'
import { waitForReplicas } from './durability.js'
import { InvalidPayloadError } from './errors.js'
import { QueueKeys } from './keys.js'
import {
  type AddOptions,
  type CacheJobOptions,
  defaultJobOptions,
  type JobDefinition,
  PKG,
  type ProcessOptions,
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveProcessOptions,
  resolveQueueOptions,
  toJobOptions,
} from './options.js'
import { RateMeter } from './rate-meter.js'
import { toQueueError } from './redis-errors.js'
import * as scripts from './scripts/index.js'
import { TenantGate } from './tenants.js'
import { type Handlers, type JobHandler, type QueueMeters, QueueWorker } from './worker.js'

/** When a scheduled job repeats: every `every`, or on a cron pattern (in `tz`). */
export type Repeat = { every: Duration } | { cron: string; tz?: string }

/** Job counts per BullMQ state, and the dead-letter queue's. */
export interface QueueCounts {
  waiting: number
  active: number
  delayed: number
  prioritized: number
  completed: number
  failed: number
  deadLetter: number
}

/** `queue.stats()`: counts from Redis; rates and latencies measured in this process. */
export interface QueueStats {
  counts: QueueCounts
  /** Jobs per second over the last minute, by this process's producers and workers. */
  throughput: { added: number; completed: number; failed: number }
  /** Jobs added per second (λ), by this process. */
  arrivalRate: number
  /** Jobs finished per second (completed + failed), by this process's workers. */
  serviceRate: number
  /** Time from add to first start (ms), delays excluded. */
  wait: LatencySummary
  /** Handler run time (ms). */
  run: LatencySummary
  /** Totals since the queue object was created. */
  totals: {
    added: number
    completed: number
    failed: number
    stalled: number
    timeouts: number
    zombies: number
    deadLettered: number
    tenantDelays: number
  }
  /** Job slots and workers needed for the target wait (when `targetWait` was given and there is traffic). */
  capacity?: CapacityPlan
}

/** One job of `addBulk`, typed by its name. */
export type BulkJob<J extends JobDefinition> = {
  [N in keyof J & string]: { name: N; data: z.input<J[N]>; opts?: AddOptions }
}[keyof J & string]

const repeatSchema = z.union([
  z.strictObject({ every: zDuration({ min: 10, max: 3650 * 86_400_000 }) }),
  z.strictObject({ cron: z.string().min(9).max(128), tz: z.string().min(1).max(64).optional() }),
])

/**
 * A typed BullMQ queue: `add` validates data with the job's schema; `process` runs typed handlers with
 * retries, timeouts, per-tenant limits and a dead-letter queue (`deadLetters`).
 */
export class TypedQueue<J extends JobDefinition> {
  /** The BullMQ queue. */
  readonly queue: Queue
  /** The dead-letter queue: list, inspect, replay, purge. */
  readonly deadLetters: DeadLetters
  /** The queue's name. */
  readonly name: string
  readonly #o: Readonly<ResolvedQueueOptions>
  readonly #conn: Connection
  readonly #keys: QueueKeys
  readonly #prefix: string
  readonly #workers = new Set<QueueWorker>()
  readonly #clients: (Redis | Cluster)[] = []
  readonly #gates: TenantGate[] = []
  readonly #meters: QueueMeters
  readonly #tenantSeq
  readonly #producer: Redis | Cluster
  readonly #bound: ProducerDeadline
  #checks: Promise<QueueWarning[]> | undefined
  #closing: Promise<void> | undefined

  /**
   * @example
   * const emails = new TypedQueue(conn, 'emails', { jobs: { welcome: z.object({ to: z.string() }) } })
   */
  constructor(conn: Connection, name: string, options: QueueOptions<J>) {
    parseOptions(
      PKG,
      z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: "must be 1–64 letters, digits or '._-'" }),
      name,
      'name',
    )
    this.#o = resolveQueueOptions(options)
    this.#conn = conn
    this.name = name
    this.#keys = new QueueKeys(conn, this.#o.namespace)
    this.#prefix = this.#keys.prefix(name)
    // The producer's connection fails commands after commandTimeout (a killed or paused server → E_UNAVAILABLE)
    const c = this.#client(this.#o.commandTimeoutMs)
    this.#producer = c
    this.#bound = producerDeadline(c, this.#o.commandTimeoutMs)
    this.queue = new Queue(name, {
      connection: c as unknown as ConnectionOptions,
      prefix: this.#prefix,
      defaultJobOptions: defaultJobOptions(this.#o),
    })
    const dlqName = this.#keys.deadLetterName(name)
    const dlq = new Queue(dlqName, {
      connection: c as unknown as ConnectionOptions,
      prefix: this.#keys.prefix(dlqName),
    })
    this.queue.on('error', () => {})
    dlq.on('error', () => {})
    this.deadLetters = new DeadLetters(this.queue, dlq, DEFAULT_REPLAY_DEDUP_MS, this.#bound)
    this.#meters = {
      added: new RateMeter(),
      completed: new RateMeter(),
      failed: new RateMeter(),
      wait: new LatencyRing(DEFAULT_LATENCY_SAMPLES),
      run: new LatencyRing(DEFAULT_LATENCY_SAMPLES),
      stalled: 0,
      timeouts: 0,
      zombies: 0,
      deadLettered: 0,
      tenantDelays: 0,
    }
    this.#tenantSeq = conn.defineScript<number>('queue:tenant-seq', scripts.tenantSeq, { keys: 1 })
    if (this.#o.checks) void this.check()
  }

  /** Gives tenants' jobs without a priority their fair-ordering priority (see `fairness`). */
  async #fair(opts: Array<JobsOptions & CacheJobOptions>): Promise<void> {
    const f = this.#o.fairness
    if (!f) return
    const byTenant = new Map<string, Array<JobsOptions & CacheJobOptions>>()
    for (const o of opts) {
      if (o.tenant === undefined || o.priority !== undefined) continue
      const list = byTenant.get(o.tenant)
      if (list) list.push(o)
      else byTenant.set(o.tenant, [o])
    }
    await Promise.all(
      [...byTenant].map(async ([tenant, list]) => {
        const total = await this.#tenantSeq(
          [this.#keys.tenantSeq(this.name, tenant)],
          [list.length, f.windowMs],
        )
        let seq = Number(total) - list.length
        for (const o of list) o.priority = Math.min(MAX_PRIORITY, 1 + Math.floor(seq++ / f.quantum))
      }),
    )
  }

  #client(commandTimeoutMs?: number): Redis | Cluster {
    const c = ioredisConnection(this.#conn, commandTimeoutMs)
    c.on('error', () => {})
    this.#clients.push(c)
    return c
  }

  #validate<N extends keyof J & string>(name: N, data: unknown): z.output<J[N]> {
    const schema = this.#o.jobs[name]
    if (!schema) throw new InvalidPayloadError(String(name), '(name)', 'is not a defined job')
    const r = schema.safeParse(data)
    if (!r.success) {
      const issue = r.error.issues[0]
      throw new InvalidPayloadError(name, issue?.path.join('.') || '(root)', issue?.message ?? 'is invalid')
    }
    return r.data as z.output<J[N]>
  }

  /**
   * The start-up checks (eviction policy, retention), run once; each warning is also published on
   * `cache:queue:warning` and logged.
   */
  check(): Promise<QueueWarning[]> {
    this.#checks ??= startupChecks(this.#conn, this.name, this.#o, this.#o.logger)
    return this.#checks
  }

  /**
   * Validates and enqueues one job; returns its id (with `durability`, once enough replicas have it).
   * @throws InvalidPayloadError (E_INVALID_PAYLOAD) naming the bad field; nothing is enqueued.
   * @throws CacheError E_UNAVAILABLE when Redis does not answer within `commandTimeout`.
   * @throws NotReplicatedError (E_NOT_REPLICATED) when fewer replicas than `durability.replicas` acknowledged.
   */
  async add<N extends keyof J & string>(name: N, data: z.input<J[N]>, opts?: AddOptions): Promise<string> {
    const valid = this.#validate(name, data)
    const o = toJobOptions(opts)
    if (o.tenant !== undefined) await this.#fair([o])
    let job: Awaited<ReturnType<typeof this.queue.add>>
    try {
      job = await this.#bound(this.queue.add(name, valid, o as JobsOptions), `add "${name}"`)
    } catch (err) {
      throw toQueueError(err, `add "${name}"`)
    }
    this.#meters.added.record()
    const id = job.id as string
    const d = this.#o.durability
    if (d) await waitForReplicas(this.#producer, this.#prefix, d, `add "${name}"`, [id])
    return id
  }

  /** Validates every job, then enqueues them all (nothing is enqueued if one is invalid). */
  async addBulk(jobs: readonly BulkJob<J>[]): Promise<string[]> {
    if (!Array.isArray(jobs)) throw new InvalidArgumentError(PKG, 'jobs', 'must be an array')
    let tenants = false
    const checked = jobs.map((j, i) => {
      const data = this.#validate(j.name, j.data)
      const opts = toJobOptions(j.opts, `jobs.${i}.opts`)
      if (opts.tenant !== undefined) tenants = true
      return { name: j.name, data, opts }
    })
    // Fair ordering only has work when a job names a tenant (as in add()): no Map, no await otherwise.
    if (tenants) await this.#fair(checked.map((c) => c.opts))
    let added: Awaited<ReturnType<typeof this.queue.addBulk>>
    try {
      added = await this.#bound(this.queue.addBulk(checked), 'addBulk')
    } catch (err) {
      throw toQueueError(err, 'addBulk')
    }
    this.#meters.added.record(added.length)
    const ids = added.map((j) => j.id as string)
    const d = this.#o.durability
    if (d) await waitForReplicas(this.#producer, this.#prefix, d, 'addBulk', ids)
    return ids
  }

  /**
   * Creates or updates (idempotent upsert) a job scheduler: job `name` with `data` every `every`, or on a
   * cron pattern. `id` names the scheduler (default: the job name); returns it.
   */
  async schedule<N extends keyof J & string>(
    name: N,
    repeat: Repeat,
    data: z.input<J[N]>,
    opts: AddOptions & { id?: string } = {},
  ): Promise<string> {
    const r = parseOptions(PKG, repeatSchema, repeat, 'repeat')
    const { id = name, ...rest } = opts
    if (typeof id !== 'string' || id.length === 0)
      throw new InvalidArgumentError(PKG, 'opts.id', 'must be a non-empty string')
    const jobOpts = toJobOptions(rest, 'opts') as JobsOptions & CacheJobOptions
    delete jobOpts.jobId
    delete jobOpts.delay
    const repeatOpts =
      'every' in r ? { every: r.every } : { pattern: r.cron, ...(r.tz !== undefined && { tz: r.tz }) }
    try {
      await this.#bound(
        this.queue.upsertJobScheduler(id, repeatOpts, {
          name,
          data: this.#validate(name, data),
          opts: jobOpts,
        }),
        `schedule "${id}"`,
      )
    } catch (err) {
      if (err instanceof InvalidPayloadError) throw err
      // A Redis that is down or timed out (commandTimeout) is E_UNAVAILABLE, not a bad `repeat`
      const mapped = toQueueError(err, `schedule "${id}"`)
      if (isCacheError(mapped)) throw mapped
      throw new InvalidArgumentError(PKG, 'repeat', `is not accepted by BullMQ: ${(err as Error).message}`)
    }
    return id
  }

  /**
   * Removes a job scheduler; true when it existed.
   * @throws CacheError E_UNAVAILABLE when Redis does not answer within `commandTimeout`.
   */
  unschedule(id: string): Promise<boolean> {
    return guarded(this.#bound, this.queue.removeJobScheduler(id), `unschedule "${id}"`)
  }

  /**
   * The job schedulers of the queue.
   * @throws CacheError E_UNAVAILABLE when Redis does not answer within `commandTimeout`.
   */
  async schedules(): Promise<
    Array<{ id: string; name: string; every?: number; cron?: string; tz?: string; next?: number }>
  > {
    const list = await guarded(this.#bound, this.queue.getJobSchedulers(0, -1, true), 'schedules')
    return list.map((s) => ({
      id: s.key,
      name: s.name,
      ...(s.every != null && { every: Number(s.every) }),
      ...(s.pattern != null && { cron: s.pattern }),
      ...(s.tz != null && { tz: s.tz }),
      ...(s.next != null && { next: s.next }),
    }))
  }

  /**
   * Starts a worker running `handlers` (one per job name). See QueueWorker for retries, timeouts, the
   * dead-letter queue and per-tenant limits.
   * @example
   * const worker = emails.process({ welcome: async (job, { signal }) => send(job.data, { signal }) }, { concurrency: 16 })
   */
  process(handlers: Handlers<J>, options: ProcessOptions = {}): QueueWorker {
    const p = resolveProcessOptions(options)
    if (!handlers || typeof handlers !== 'object')
      throw new InvalidArgumentError(PKG, 'handlers', 'must be an object of functions')
    for (const name of Object.keys(this.#o.jobs)) {
      if (typeof (handlers as Record<string, unknown>)[name] !== 'function')
        throw new InvalidArgumentError(PKG, `handlers.${name}`, 'must be a function')
    }
    let gate: TenantGate | undefined
    if (p.perTenant) {
      const leaseMs = (this.#o.timeoutMs ?? 600_000) + p.zombieGraceMs + 1_000
      gate = new TenantGate(this.#conn, this.#keys, this.name, p.perTenant, leaseMs)
      this.#gates.push(gate)
    }
    const connection = this.#client()
    const w = new QueueWorker(
      {
        conn: this.#conn,
        name: this.name,
        prefix: this.#prefix,
        source: this.queue,
        connection: connection as unknown as ConnectionOptions,
        options: this.#o,
        process: p,
        deadLetters: this.deadLetters,
        gate,
        meters: this.#meters,
        // A closed worker's connection goes with it (it stayed open until the queue closed, one per process()).
        onClose: (x) => {
          this.#workers.delete(x)
          const i = this.#clients.indexOf(connection)
          if (i >= 0) this.#clients.splice(i, 1)
          connection.disconnect()
        },
      },
      handlers as unknown as Record<string, JobHandler<string, unknown>>,
    )
    this.#workers.add(w)
    return w
  }

  /** Counts per state (Redis), throughput, wait and run time percentiles, and optionally a capacity plan. */
  async stats(options: { targetWait?: Duration } = {}): Promise<QueueStats> {
    const o = parseOptions(PKG, z.strictObject({ targetWait: zDuration({ min: 1 }).optional() }), options)
    const [c, deadLetter] = await guarded(
      this.#bound,
      Promise.all([
        this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
        // the dead-letter queue's own call, unguarded: the guard around both bounds and types it once
        this.deadLetters.queue.getWaitingCount(),
      ]),
      'stats',
    )
    const m = this.#meters
    const completed = m.completed.rate()
    const failed = m.failed.rate()
    const run = m.run.summary()
    const stats: QueueStats = {
      counts: {
        waiting: c.waiting ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        prioritized: c.prioritized ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
        deadLetter,
      },
      throughput: { added: m.added.rate(), completed, failed },
      arrivalRate: m.added.rate(),
      serviceRate: completed + failed,
      wait: m.wait.summary(),
      run,
      totals: {
        added: m.added.total,
        completed: m.completed.total,
        failed: m.failed.total,
        stalled: m.stalled,
        timeouts: m.timeouts,
        zombies: m.zombies,
        deadLettered: m.deadLettered,
        tenantDelays: m.tenantDelays,
      },
    }
    if (o.targetWait !== undefined && stats.arrivalRate > 0 && run.samples > 0) {
      stats.capacity = workersNeeded({
        arrivalRate: stats.arrivalRate,
        serviceTimeMs: Math.max(0.001, run.p50),
        targetWaitMs: o.targetWait,
      })
    }
    return stats
  }

  /** Closes the workers (waiting for in-flight jobs), then the queues and their connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#workers].map((w) => w.close()))
      await Promise.all([
        this.queue.close(),
        this.deadLetters.queue.close(),
        ...this.#gates.map((g) => g.close()),
      ])
      await this.#checks?.catch(() => {})
      for (const c of this.#clients.splice(0)) c.disconnect()
    })()
    return this.#closing
  }

  /** `await using emails = defineQueue(…)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/**
 * Defines a typed queue (same as `new TypedQueue(conn, name, options)`).
 * @example
 * const emails = defineQueue(conn, 'emails', { jobs: { welcome: z.object({ to: z.string().email() }) } })
 * await emails.add('welcome', { to: 'ada@example.com' })
 */
export function defineQueue<J extends JobDefinition>(
  conn: Connection,
  name: string,
  options: QueueOptions<J>,
): TypedQueue<J> {
  return new TypedQueue(conn, name, options)
}
