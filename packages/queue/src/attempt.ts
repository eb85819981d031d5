import type { Job } from 'bullmq'

/** What a handler gets besides the job (its members may be destructured: `{ signal, progress }`). */
export interface JobContext {
  /** Aborts when the attempt times out (reason: a JobTimeoutError) or the worker is force-closed. */
  readonly signal: AbortSignal
  /** Reports progress (a number or an object), stored on the job. */
  readonly progress: (value: number | object) => Promise<void>
  /** Appends a line to the job's log. */
  readonly log: (line: string) => Promise<void>
}

const PREV = Symbol('prev')
const NEXT = Symbol('next')

/**
 * One running attempt's context. Its AbortController is made only when the handler reads `signal`: on
 * Node 20 a controller per job (what BullMQ makes for a processor that takes a signal) cost about a tenth
 * of a no-op job's throughput in allocation and GC, paid by every handler that never looks at it.
 * @internal
 */
export class Attempt implements JobContext {
  /** Links of the worker's list of running attempts (see RunningAttempts), under symbols handlers never see. */
  [PREV]: Attempt | undefined = undefined;
  [NEXT]: Attempt | undefined = undefined
  readonly #job: Job
  #controller: AbortController | undefined
  #aborted = false
  #reason: unknown

  constructor(job: Job) {
    this.#job = job
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Aborts the signal (now, or when the handler first reads it). The first reason wins. */
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }

  // Getters that return functions, so that `{ progress, log }` destructured from the context still work;
  // a closure is made only for a handler that uses one.
  get progress(): (value: number | object) => Promise<void> {
    const job = this.#job
    return (value) => job.updateProgress(value)
  }

  get log(): (line: string) => Promise<void> {
    const job = this.#job
    return async (line) => {
      await job.log(line)
    }
  }
}

/**
 * The attempts a worker is running, for a forced close to abort. A list linked through the attempts
 * themselves: a `Set` of them cost ~0.2 µs of a no-op job's ~0.65 µs of our processor code at c=32 (its
 * hash table's churn as attempts come and go), linking costs none of that. @internal
 */
export class RunningAttempts {
  #head: Attempt | undefined

  add(a: Attempt): void {
    a[NEXT] = this.#head
    if (this.#head) this.#head[PREV] = a
    this.#head = a
  }

  delete(a: Attempt): void {
    const prev = a[PREV]
    const next = a[NEXT]
    if (prev) prev[NEXT] = next
    else if (this.#head === a) this.#head = next
    if (next) next[PREV] = prev
    a[PREV] = undefined
    a[NEXT] = undefined
  }

  /** Aborts every running attempt's signal. */
  abortAll(reason: unknown): void {
    for (let a = this.#head; a; a = a[NEXT]) a.abort(reason)
  }
}
