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

/**
 * One running attempt's context. Its AbortController is made only when the handler reads `signal`: on
 * Node 20 a controller per job (what BullMQ makes for a processor that takes a signal) cost about a tenth
 * of a no-op job's throughput in allocation and GC, paid by every handler that never looks at it.
 * @internal
 */
export class Attempt implements JobContext {
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
