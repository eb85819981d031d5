import {
  backoff,
  type Connection,
  type Duration,
  type LatencyRing,
  parseDuration,
  withDeadline,
} from '@cache/client'
import {
  type ConnectionOptions,
  DelayedError,
  type Job,
  type Queue,
  UnrecoverableError,
  Worker,
} from 'bullmq'
import type { z } from 'zod'
import { Attempt, type JobContext, RunningAttempts } from './attempt.js'
import type { DeadLetters } from './dead-letters.js'
import { DEFAULT_CLOSE_TIMEOUT_MS } from './defaults.js'
import {
  completedChannel,
  failedChannel,
  retriedChannel,
  stalledChannel,
  tenantDelayedChannel,
  timeoutChannel,
  zombieChannel,
} from './diagnostics.js'
import { JobStalledError, JobTimeoutError } from './errors.js'
import { attemptRecord, readAttempts, recordAttempt } from './history.js'
import {
  BACKOFF_TYPES,
  type CacheJobOptions,
  type JobDefinition,
  PKG,
  type ResolvedProcessOptions,
  type ResolvedQueueOptions,
} from './options.js'
import type { RateMeter } from './rate-meter.js'
import type { TenantGate } from './tenants.js'

export type { JobContext } from './attempt.js'

/** A job as a handler sees it. */
export interface QueueJob<N extends string = string, D = unknown> {
  readonly id: string
  readonly name: N
  /** The data, parsed by the job's schema. */
  readonly data: D
  /** 1 for the first attempt. */
  readonly attempt: number
  /** The attempts the job has. */
  readonly attempts: number
  /** The job's tenant, when it was added with one. */
  readonly tenant: string | undefined
  /** When the job was added (ms since the epoch). */
  readonly timestamp: number
  /** The BullMQ job underneath. */
  readonly raw: Job
}

/** The handler of one job name. */
export type JobHandler<N extends string, D> = (job: QueueJob<N, D>, ctx: JobContext) => Promise<unknown>

/** A handler per job name of a definition. */
export type Handlers<J extends JobDefinition> = {
  [N in keyof J & string]: JobHandler<N, z.output<J[N]>>
}

/** Counters and latency rings a queue shares with its workers. @internal */
export interface QueueMeters {
  completed: RateMeter
  failed: RateMeter
  added: RateMeter
  wait: LatencyRing
  run: LatencyRing
  stalled: number
  timeouts: number
  zombies: number
  deadLettered: number
  tenantDelays: number
}

/** Everything a worker needs from its queue. @internal */
export interface WorkerDeps {
  conn: Connection
  name: string
  prefix: string
  source: Queue
  connection: ConnectionOptions
  options: ResolvedQueueOptions
  process: ResolvedProcessOptions
  deadLetters: DeadLetters
  gate: TenantGate | undefined
  meters: QueueMeters
  onClose: (w: QueueWorker) => void
}

/**
 * A BullMQ Worker running typed handlers: schema check (invalid data goes straight to the dead-letter
 * queue), per-tenant limits, a timeout that aborts the handler's signal, retries with @cache/client's
 * backoff, and after the last attempt the job and its attempt history moved to the dead-letter queue.
 */
export class QueueWorker {
  /** The BullMQ worker. */
  readonly worker: Worker
  readonly #d: WorkerDeps
  readonly #handlers: Record<string, JobHandler<string, unknown>>
  /** Stall records and dead-letter moves started from BullMQ events, awaited by close(). */
  readonly #background = new Set<Promise<void>>()
  /** Stall records being written, by job id: a dead-letter move of the same job waits for its record. */
  readonly #stallRecords = new Map<string, Promise<void>>()
  /** The attempts running now, aborted by a forced close. */
  readonly #running = new RunningAttempts()
  #closing: Promise<void> | undefined

  /** @internal */
  constructor(deps: WorkerDeps, handlers: Record<string, JobHandler<string, unknown>>) {
    this.#d = deps
    this.#handlers = handlers
    const p = deps.process
    const { maxMs } = deps.options.backoff
    // Two parameters: BullMQ makes an AbortController per job for a processor that takes a third (the
    // signal); ours is made only for a handler that reads `ctx.signal` (see Attempt).
    this.worker = new Worker(deps.name, (job, token) => this.#process(job, token), {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: p.concurrency,
      ...(p.id !== undefined && { name: p.id }),
      ...(p.lockDurationMs !== undefined && { lockDuration: p.lockDurationMs }),
      ...(p.stalledIntervalMs !== undefined && { stalledInterval: p.stalledIntervalMs }),
      ...(p.maxStalledCount !== undefined && { maxStalledCount: p.maxStalledCount }),
      settings: {
        backoffStrategy: (attemptsMade, type, _err, job) => {
          const b = job?.opts.backoff
          const base = typeof b === 'object' ? (b.delay ?? 0) : Number(b ?? 0)
          const jitter = typeof b === 'object' ? (b.jitter ?? 0) : 0
          const delayMs =
            type === BACKOFF_TYPES.fixed
              ? backoff({ attempt: 0, base, max: base, jitter })
              : backoff({ attempt: attemptsMade - 1, base, max: maxMs, jitter })
          retriedChannel.publish({
            queue: deps.name,
            name: job?.name,
            id: job?.id,
            attempt: attemptsMade,
            delayMs,
          })
          return delayMs
        },
      },
    })
    this.worker.on('stalled', (id) => {
      deps.meters.stalled++
      stalledChannel.publish({ queue: deps.name, id })
      const recording = this.#recordStall(id).finally(() => this.#stallRecords.delete(id))
      this.#stallRecords.set(id, recording)
      this.#track(recording)
    })
    // A job that stalled more than maxStalledCount times is failed by BullMQ itself when a worker next takes
    // it (a "deferred failure"): the handler never runs, so #process cannot move it; this listener does.
    this.worker.on('failed', (job, err) => {
      if (job?.deferredFailure && err instanceof UnrecoverableError) this.#track(this.#deadLetterStalled(job))
    })
    // Errors of the worker's connection are retried by ioredis and BullMQ; without a listener Node would throw.
    this.worker.on('error', () => {})
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch(() => {}).finally(() => this.#background.delete(tracked))
    this.#background.add(tracked)
  }

  /** Appends a stall to the job's attempt history (the job is back in wait, its attempt lost). */
  async #recordStall(id: string): Promise<void> {
    const job = await this.#d.source.getJob(id)
    if (!job) return
    const stalls = job.stalledCounter
    const err = new JobStalledError(job.name, id, stalls)
    await recordAttempt(job, attemptRecord(job.attemptsStarted, job.processedOn ?? Date.now(), err))
  }

  /** Moves a job BullMQ failed for stalling too often to the dead-letter queue, with its stall history. */
  async #deadLetterStalled(job: Job): Promise<void> {
    const d = this.#d
    const limit = d.process.maxStalledCount ?? 1
    const err = new JobStalledError(job.name, job.id, job.stalledCounter, limit)
    const rec = attemptRecord(job.attemptsStarted, job.processedOn ?? Date.now(), err)
    // This worker's stalled check may have taken the job back just before taking it: its record first.
    await this.#stallRecords.get(job.id as string)?.catch(() => {})
    const history = await readAttempts(d.source, job.id as string).catch(() => [])
    await d.deadLetters.send(job, err.message, err.code, [...history, rec])
    d.meters.deadLettered++
    d.meters.failed.record()
    failedChannel.publish({
      queue: d.name,
      name: job.name,
      id: job.id,
      attempt: job.attemptsStarted,
      code: err.code,
      error: err.message,
    })
  }

  /** Resolves when the worker's connection is ready. */
  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady()
  }

  async #process(job: Job, token: string | undefined): Promise<unknown> {
    const d = this.#d
    // A stall this worker's check just found is on record before the job runs again.
    if (this.#stallRecords.size > 0) await this.#stallRecords.get(job.id as string)?.catch(() => {})
    const startedAt = Date.now()
    const attempt = job.attemptsMade + 1
    const attempts = job.opts.attempts ?? 1
    const name = job.name
    const schema = d.options.jobs[name]
    const handler = this.#handlers[name]
    const parsed = schema?.safeParse(job.data)
    if (!schema || !handler || !parsed?.success) {
      const issue = parsed && !parsed.success ? parsed.error.issues[0] : undefined
      const reason = !schema
        ? `job "${name}" is not defined`
        : `job "${name}" field "${issue?.path.join('.') || '(root)'}" ${issue?.message ?? 'is invalid'}`
      const err = Object.assign(new UnrecoverableError(`[@cache/queue] ${reason}`), {
        code: 'E_INVALID_PAYLOAD',
      })
      const rec = attemptRecord(attempt, startedAt, err)
      await d.deadLetters.send(job, err.message, 'E_INVALID_PAYLOAD', [rec])
      d.meters.deadLettered++
      d.meters.failed.record()
      throw err
    }
    const tenant = (job.opts as CacheJobOptions).tenant
    let release: (() => Promise<void>) | undefined
    if (d.gate && tenant !== undefined) {
      const g = await d.gate.enter(tenant)
      if (!g.ok) {
        d.meters.tenantDelays++
        await job.moveToDelayed(Date.now() + g.delayMs, token)
        tenantDelayedChannel.publish({
          queue: d.name,
          name,
          id: job.id,
          tenant,
          limit: g.limit,
          delayMs: g.delayMs,
        })
        throw new DelayedError()
      }
      release = g.release
    }
    // From the job's enqueue (plus its delay) to this attempt's start: on a retry it includes the earlier
    // attempts and their backoff; the queue's wait percentiles take first attempts only.
    const waitMs = Math.max(0, startedAt - job.timestamp - (job.opts.delay ?? 0))
    if (attempt === 1) d.meters.wait.record(waitMs)
    const ctx = new Attempt(job)
    this.#running.add(ctx)
    const view: QueueJob = {
      id: job.id as string,
      name,
      data: parsed.data,
      attempt,
      attempts,
      tenant,
      timestamp: job.timestamp,
      raw: job,
    }
    const timeoutMs = (job.opts as CacheJobOptions).timeoutMs ?? d.options.timeoutMs
    const t0 = performance.now()
    try {
      const result = await (timeoutMs === undefined
        ? handler(view, ctx)
        : this.#runTimed(job, handler, view, ctx, timeoutMs))
      const runMs = performance.now() - t0
      d.meters.run.record(runMs)
      d.meters.completed.record()
      if (completedChannel.hasSubscribers)
        completedChannel.publish({ queue: d.name, name, id: job.id, attempt, runMs, waitMs })
      return result
    } catch (err) {
      const runMs = performance.now() - t0
      d.meters.run.record(runMs)
      d.meters.failed.record()
      const rec = attemptRecord(attempt, startedAt, err)
      await recordAttempt(job, rec).catch(() => {})
      if (failedChannel.hasSubscribers)
        failedChannel.publish({
          queue: d.name,
          name,
          id: job.id,
          attempt,
          code: rec.code,
          error: rec.error,
          runMs,
          waitMs,
        })
      const unrecoverable = err instanceof UnrecoverableError || d.options.nonRetryable(err)
      if (attempt < attempts && !unrecoverable) throw err
      const history = await readAttempts(d.source, job.id as string).catch(() => [rec])
      await d.deadLetters.send(job, rec.error, rec.code, history.length > 0 ? history : [rec])
      d.meters.deadLettered++
      if (unrecoverable && !(err instanceof UnrecoverableError)) {
        throw Object.assign(new UnrecoverableError(rec.error), { cause: err })
      }
      throw err
    } finally {
      this.#running.delete(ctx)
      if (release) await release().catch(() => {})
    }
  }

  /** Runs the handler under the attempt's timeout; a handler that outlives it is reported a zombie. */
  async #runTimed(
    job: Job,
    handler: JobHandler<string, unknown>,
    view: QueueJob,
    ctx: Attempt,
    timeoutMs: number,
  ): Promise<unknown> {
    const d = this.#d
    const running = Promise.resolve().then(() => handler(view, ctx))
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new JobTimeoutError(job.name, job.id, timeoutMs)
        d.meters.timeouts++
        timeoutChannel.publish({ queue: d.name, name: job.name, id: job.id, timeoutMs })
        ctx.abort(err)
        reject(err)
        this.#watchZombie(job, running, timeoutMs)
      }, timeoutMs)
    })
    try {
      return await Promise.race([running, timedOut])
    } finally {
      clearTimeout(timer)
    }
  }

  #watchZombie(job: Job, running: Promise<unknown>, timeoutMs: number): void {
    const d = this.#d
    let settled = false
    running.then(
      () => {
        settled = true
      },
      () => {
        settled = true
      },
    )
    const graceMs = d.process.zombieGraceMs
    setTimeout(() => {
      if (settled) return
      d.meters.zombies++
      zombieChannel.publish({ queue: d.name, name: job.name, id: job.id, timeoutMs, graceMs })
    }, graceMs).unref()
  }

  /**
   * Stops taking jobs and waits up to `timeout` for the ones in flight; past it, their signals abort and
   * the worker closes without waiting (those jobs are retried by another worker's stalled check).
   * Idempotent.
   */
  close({ timeout = DEFAULT_CLOSE_TIMEOUT_MS }: { timeout?: Duration } = {}): Promise<void> {
    const ms = parseDuration(timeout, { field: 'timeout', pkg: PKG })
    this.#closing ??= (async () => {
      try {
        await withDeadline(this.worker.close(), ms, 'worker.close')
      } catch {
        this.#running.abortAll('closing')
        // BullMQ's close(true) after close() returns that first, unforced close, which waits for handlers
        // that may never settle (one that ignores its signal): end the worker's connections instead, so a
        // close is bounded by `timeout` twice at most; those jobs are retried by a stalled check.
        await withDeadline(this.worker.disconnect(), ms, 'worker.disconnect').catch(() => undefined)
      }
      await Promise.all(this.#background)
      this.#d.onClose(this)
    })()
    return this.#closing
  }

  /** `await using worker = queue.process(…)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
