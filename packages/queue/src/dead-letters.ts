import { InvalidArgumentError } from '@cache/client'
import type { Job, JobsOptions, Queue } from 'bullmq'
import { guarded, type ProducerDeadline } from './deadline.js'
import { DEFAULT_LIST_LIMIT, DLQ_PAGE } from './defaults.js'
import { deadLetterChannel, replayedChannel } from './diagnostics.js'
import type { AttemptRecord } from './history.js'
import { newJobId, PKG } from './options.js'

/** A job in the dead-letter queue: the original job and why it died. */
export interface DeadLetter<Data = unknown> {
  /** The dead letter's id (in the dead-letter queue). */
  id: string
  /** The job's name. */
  name: string
  /** The job's data, as it was enqueued. */
  data: Data
  /** The job's BullMQ options. */
  opts: JobsOptions
  /** The job's id in the source queue. */
  sourceId: string
  /** The source queue's name. */
  queue: string
  /** The last error's message. */
  reason: string
  /** The last error's code (E_INVALID_PAYLOAD, E_JOB_TIMEOUT, …), when it has one. */
  code?: string
  /** Every failed attempt: error, stack and times. */
  attempts: AttemptRecord[]
  /** When the job was first enqueued (ms since the epoch). */
  createdAt: number
  /** When it was moved here. */
  deadAt: number
}

/** Which dead letters an operation applies to. */
export interface DeadLetterFilter {
  /** Only jobs of this name. */
  name?: string
  /** Dead at or after this time (ms or Date). */
  since?: number | Date
  /** Dead before this time. */
  until?: number | Date
  /** The code of the last error. */
  code?: string
  /** The last error's message contains this string or matches this pattern. */
  reason?: string | RegExp
}

/** A selection of dead letters: by ids, by filter, or all of them. */
export type DeadLetterSelector = { ids: readonly string[] } | { filter: DeadLetterFilter } | { all: true }

/** Result of a replay. */
export interface ReplayResult {
  /** Dead letters put back on the source queue. */
  replayed: number
  /** Selected dead letters already replayed (or gone). */
  skipped: number
  /** The new jobs' ids in the source queue. */
  ids: string[]
}

type Stored = Omit<DeadLetter, 'id' | 'name'>

/** Options a replayed job does not inherit: its id, delay, deduplication and scheduler links. */
const NOT_REPLAYED = [
  'jobId',
  'delay',
  'deduplication',
  'debounce',
  'repeat',
  'repeatJobKey',
  'jobSchedulerId',
  'prevMillis',
  'timestamp',
  'parent',
  'lifo',
] as const

function ms(v: number | Date | undefined): number | undefined {
  return v instanceof Date ? v.getTime() : v
}

function matches(d: DeadLetter, f: DeadLetterFilter): boolean {
  if (f.name !== undefined && d.name !== f.name) return false
  const since = ms(f.since)
  const until = ms(f.until)
  if (since !== undefined && d.deadAt < since) return false
  if (until !== undefined && d.deadAt >= until) return false
  if (f.code !== undefined && d.code !== f.code) return false
  if (f.reason !== undefined) {
    if (typeof f.reason === 'string' ? !d.reason.includes(f.reason) : !f.reason.test(d.reason)) return false
  }
  return true
}

function toDeadLetter(job: Job): DeadLetter | undefined {
  const s = job.data as Stored | undefined
  if (!s || typeof s !== 'object' || typeof s.sourceId !== 'string') return undefined
  return { ...s, id: job.id as string, name: job.name }
}

function checkSelector(sel: DeadLetterSelector): void {
  if (
    !sel ||
    typeof sel !== 'object' ||
    !('ids' in sel || 'filter' in sel || ('all' in sel && sel.all === true))
  )
    throw new InvalidArgumentError(PKG, 'selector', 'must be { ids }, { filter } or { all: true }')
  if ('ids' in sel && !Array.isArray(sel.ids))
    throw new InvalidArgumentError(PKG, 'selector.ids', 'must be an array of ids')
}

/**
 * The dead-letter queue of a TypedQueue: a BullMQ queue (`<name>-dlq`) whose jobs keep the original job's
 * name, data and options and its attempt history. Nothing processes it: list, inspect, replay, purge.
 * Each of their Redis calls is guarded as `add` is: a Redis that does not answer within the queue's
 * `commandTimeout` (down, paused, not ready yet) fails the call with E_UNAVAILABLE, another Redis error
 * with E_COMMAND. The deadline is per Redis call, not per operation, so a long replay is not cut short.
 */
export class DeadLetters<Data = unknown> {
  readonly #source: Queue
  /** The dead-letter BullMQ queue. */
  readonly queue: Queue
  readonly #dedupMs: number
  readonly #deadline: ProducerDeadline

  /** @internal */
  constructor(source: Queue, dlq: Queue, replayDedupMs: number, deadline: ProducerDeadline) {
    this.#source = source
    this.queue = dlq
    this.#dedupMs = replayDedupMs
    this.#deadline = deadline
  }

  /** One Redis call of operation `what`, bounded and typed. */
  #call<T>(promise: Promise<T>, what: string): Promise<T> {
    return guarded(this.#deadline, promise, `deadLetters.${what}`)
  }

  /**
   * Moves a job to the dead-letter queue (idempotent: the dead letter's id derives from the job's id).
   * @internal
   */
  async send(job: Job, reason: string, code: string | undefined, attempts: AttemptRecord[]): Promise<string> {
    const stored: Stored = {
      sourceId: job.id as string,
      queue: this.#source.name,
      data: job.data,
      opts: job.opts,
      reason,
      attempts,
      createdAt: job.timestamp,
      deadAt: Date.now(),
    }
    if (code !== undefined) stored.code = code
    const id = `dead-${job.id}`
    await this.queue.add(job.name, stored, { jobId: id, removeOnComplete: true, removeOnFail: true })
    deadLetterChannel.publish({
      queue: this.#source.name,
      name: job.name,
      id: job.id,
      reason,
      code,
      attempts: attempts.length,
    })
    return id
  }

  /** Dead letters in the queue. */
  count(): Promise<number> {
    return this.#call(this.queue.getWaitingCount(), 'count')
  }

  async *#scan(filter: DeadLetterFilter, what: string): AsyncGenerator<DeadLetter<Data>> {
    const total = await this.#call(this.queue.getWaitingCount(), what)
    for (let start = 0; start < total; start += DLQ_PAGE) {
      const jobs = await this.#call(this.queue.getJobs(['wait'], start, start + DLQ_PAGE - 1, true), what)
      for (const job of jobs) {
        const d = job && toDeadLetter(job)
        if (d && matches(d, filter)) yield d as DeadLetter<Data>
      }
    }
  }

  /** Dead letters, oldest first, filtered by name and time. */
  async list(options: DeadLetterFilter & { limit?: number } = {}): Promise<DeadLetter<Data>[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    if (!Number.isInteger(limit) || limit < 1)
      throw new InvalidArgumentError(PKG, 'limit', 'must be a positive integer')
    const out: DeadLetter<Data>[] = []
    for await (const d of this.#scan(options, 'list')) {
      out.push(d)
      if (out.length >= limit) break
    }
    return out
  }

  /** One dead letter by id, with its full attempt history; undefined when there is none. */
  inspect(id: string): Promise<DeadLetter<Data> | undefined> {
    return this.#get(id, 'inspect')
  }

  async #get(id: string, what: string): Promise<DeadLetter<Data> | undefined> {
    const job = await this.#call(this.queue.getJob(id), what)
    return job ? (toDeadLetter(job) as DeadLetter<Data> | undefined) : undefined
  }

  async #select(
    sel: DeadLetterSelector,
    what: string,
  ): Promise<{ letters: DeadLetter<Data>[]; missing: number }> {
    checkSelector(sel)
    if ('ids' in sel) {
      const found = await Promise.all(sel.ids.map((id) => this.#get(id, what)))
      const letters = found.filter((d): d is DeadLetter<Data> => d !== undefined)
      return { letters, missing: found.length - letters.length }
    }
    const letters: DeadLetter<Data>[] = []
    for await (const d of this.#scan('filter' in sel ? sel.filter : {}, what)) letters.push(d)
    return { letters, missing: 0 }
  }

  /**
   * Puts dead letters back on the source queue with their attempts reset, then removes them here.
   * Idempotent: each replay is deduplicated by the dead letter's id (for `DEFAULT_REPLAY_DEDUP_MS`), so a
   * second or concurrent replay of the same dead letter enqueues nothing and counts it as skipped.
   */
  async replay(sel: DeadLetterSelector): Promise<ReplayResult> {
    const { letters, missing } = await this.#select(sel, 'replay')
    const result: ReplayResult = { replayed: 0, skipped: missing, ids: [] }
    for (let i = 0; i < letters.length; i += DLQ_PAGE) {
      await Promise.all(letters.slice(i, i + DLQ_PAGE).map((d) => this.#replayOne(d, result)))
    }
    replayedChannel.publish({ queue: this.#source.name, replayed: result.replayed, skipped: result.skipped })
    return result
  }

  async #replayOne(d: DeadLetter<Data>, result: ReplayResult): Promise<void> {
    const dedup = `replay-${d.id}`
    if ((await this.#call(this.#source.getDeduplicationJobId(dedup), 'replay')) !== null) {
      result.skipped++
    } else {
      const opts: Record<string, unknown> = { ...d.opts }
      for (const k of NOT_REPLAYED) delete opts[k]
      opts.deduplication = { id: dedup, ttl: this.#dedupMs }
      opts.jobId = newJobId()
      const job = await this.#call(this.#source.add(d.name, d.data, opts as JobsOptions), 'replay')
      result.replayed++
      result.ids.push(job.id as string)
    }
    await this.#call(this.queue.remove(d.id), 'replay')
  }

  /** Removes dead letters; returns how many. */
  async purge(sel: DeadLetterSelector): Promise<number> {
    const { letters } = await this.#select(sel, 'purge')
    let n = 0
    for (let i = 0; i < letters.length; i += DLQ_PAGE) {
      const removed = await Promise.all(
        letters.slice(i, i + DLQ_PAGE).map((d) => this.#call(this.queue.remove(d.id), 'purge')),
      )
      n += removed.filter((r) => r === 1).length
    }
    return n
  }
}
