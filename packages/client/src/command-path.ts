import diagnostics from 'node:diagnostics_channel'
import type { CircuitBreaker } from './breaker.js'
import { isNoScript, toCacheError } from './error-mapping.js'
import { CacheError, isUnavailable, UnavailableError } from './errors.js'
import { TAG } from './pkg.js'
import type { Topology } from './types.js'

/** Published on `cache:client:command` after every command sent through a Connection. */
export interface CommandEvent {
  command: string
  topology: Topology
  durationMs: number
  ok: boolean
  errorCode?: string
}

/** diagnostics_channel `cache:client:command`: per-command latency and outcome, for metrics and tracing. */
export const commandChannel = diagnostics.channel('cache:client:command')

const NO_ARGS: readonly unknown[] = []
const noop = (): void => {}

/** A command with a round-trip limit, until it settles. */
interface PendingCommand {
  command: string
  start: number
  timed: boolean
  deadline: number
  timeoutMs: number
  resolve(value: unknown): void
  reject(err: unknown): void
  settled: boolean
}

/** What the guarded path needs from its connection. */
export interface CommandPathOptions {
  topology: Topology
  /** Default round-trip limit (ms); 0 disables it. */
  commandTimeoutMs: number
  breaker: CircuitBreaker | undefined
  /** Why commands are refused (closed connection), or undefined while open. */
  closed(): boolean
  /** Called after a connectivity failure on a cluster (node-redis only rediscovers on MOVED). */
  onClusterUnavailable(): void
  /**
   * Most commands node-redis may hold while the connection is not ready (`offlineQueue.maxLength`); 0: no
   * bound here (the offline queue is off and node-redis rejects them itself).
   */
  offlineQueueMax: number
  /** True while the connection is not ready (commands sent now wait in node-redis's offline queue). */
  offline(): boolean
}

/**
 * The guarded command path: every command of every @cache package goes through `exec`. It fails fast with
 * E_UNAVAILABLE while the breaker is open, limits the round trip (E_TIMEOUT), maps errors to CacheError and
 * publishes `cache:client:command` when someone listens.
 *
 * Cost matters here (it is paid per command, 200k+ times a second): one sweep interval times out every
 * overdue command instead of a timer each; commands with a limit sit in a FIFO (replies mostly arrive in
 * order, so the head advances as they settle and nothing lives long enough to be promoted by the GC);
 * commands without a limit are not wrapped in a second promise at all.
 */
export class CommandPath {
  readonly #o: CommandPathOptions
  readonly #tickMs: number
  #inflight = 0
  /** Commands with a round-trip limit in send order; settled ones leave from the head. */
  #fifo: Array<PendingCommand | undefined> = []
  #head = 0
  #sweeper: NodeJS.Timeout | undefined
  #lastSweep = performance.now()
  #drained: (() => void) | undefined
  #offlineQueued = 0
  readonly #unqueue = () => {
    this.#offlineQueued--
  }

  constructor(options: CommandPathOptions) {
    this.#o = options
    this.#tickMs = Math.max(5, Math.min(50, Math.floor(options.commandTimeoutMs / 20)))
  }

  /** Commands sent and not yet settled. */
  get inflight(): number {
    return this.#inflight
  }

  /** Resolves when nothing is in flight, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.#drained = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** Stops the sweep interval (after close). */
  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }

  /** Runs `fn` (which sends one command) on the guarded path. */
  exec<T>(command: string, fn: () => Promise<T>, timeoutMs = this.#o.commandTimeoutMs): Promise<T> {
    return this.call(command, undefined, fn, NO_ARGS, timeoutMs)
  }

  /** `exec` for `method.apply(target, args)`, without a closure per command (the hot path of `conn.redis`). */
  call<T>(
    command: string,
    target: object | undefined,
    method: (...args: unknown[]) => Promise<T>,
    args: readonly unknown[],
    timeoutMs = this.#o.commandTimeoutMs,
  ): Promise<T> {
    const refused = this.#refuse(command)
    if (refused) return refused as Promise<T>
    const queued = this.#o.offlineQueueMax > 0 && this.#o.offline()
    if (queued && this.#offlineQueued >= this.#o.offlineQueueMax) return this.#queueFull(command)
    let reply: Promise<T>
    try {
      reply = method.apply(target, args as unknown[])
    } catch (err) {
      reply = Promise.reject(err)
    }
    if (queued) {
      // Counted until node-redis itself settles it (sent after the reconnect, or failed), not until our
      // round-trip limit gives up on it: a timed-out command still sits in node-redis's queue.
      this.#offlineQueued++
      reply.then(this.#unqueue, this.#unqueue)
    }
    return this.#track(command, reply, timeoutMs)
  }

  /** Commands held by node-redis because they were sent while the connection was not ready. */
  get offlineQueued(): number {
    return this.#offlineQueued
  }

  #queueFull(command: string): Promise<never> {
    this.#publish(command, 0, 'E_UNAVAILABLE')
    return Promise.reject(
      new UnavailableError(
        `${TAG} ${command}: ${this.#o.topology} server not connected and the offline queue is full (${this.#o.offlineQueueMax} commands)`,
        { details: { offlineQueueMax: this.#o.offlineQueueMax } },
      ),
    )
  }

  #refuse(command: string): Promise<never> | undefined {
    if (this.#o.closed()) {
      return Promise.reject(new CacheError('E_CLOSED', `${TAG} ${command}: the connection is closed`))
    }
    const breaker = this.#o.breaker
    if (breaker && !breaker.allow()) {
      this.#publish(command, 0, 'E_UNAVAILABLE')
      return Promise.reject(
        new CacheError(
          'E_UNAVAILABLE',
          `${TAG} ${command}: ${this.#o.topology} server unavailable (circuit open)`,
          { details: { retryAfterMs: breaker.retryAfterMs } },
        ),
      )
    }
    return undefined
  }

  #track<T>(command: string, reply: Promise<T>, timeoutMs: number): Promise<T> {
    this.#inflight++
    const timed = commandChannel.hasSubscribers
    const start = performance.now()
    if (!(timeoutMs > 0)) {
      // No round-trip limit: nothing can settle it early, so no second promise is needed.
      return reply.then(
        (value) => {
          this.#done(undefined)
          if (timed) this.#publish(command, performance.now() - start)
          return value
        },
        (err: unknown) => {
          throw this.#failed(command, start, err ?? new Error('rejected'))
        },
      )
    }
    const op: PendingCommand = {
      command,
      start,
      timed,
      deadline: start + timeoutMs,
      timeoutMs,
      resolve: noop,
      reject: noop,
      settled: false,
    }
    this.#next = op
    const promise = new Promise<T>(this.#enqueue)
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#tickMs).unref()
    reply.then(
      (value) => this.#settle(op, undefined, value),
      (err: unknown) => this.#settle(op, err ?? new Error('rejected')),
    )
    return promise
  }

  /** The command being tracked by `#track`, handed to `#enqueue`. */
  #next: PendingCommand | undefined
  /** One shared Promise executor (it runs synchronously in the constructor) instead of a closure per command. */
  readonly #enqueue = (resolve: (value: never) => void, reject: (err: unknown) => void): void => {
    const op = this.#next as PendingCommand
    this.#next = undefined
    op.resolve = resolve as (value: unknown) => void
    op.reject = reject
    this.#fifo.push(op)
  }

  /**
   * Times out overdue commands. One unref'd interval for all of them instead of a timer per command: at
   * 200k+ commands/s a setTimeout/clearTimeout pair per command costs more than the rest of the guarded path.
   */
  #sweep(): void {
    const now = performance.now()
    const late = now - this.#lastSweep > this.#tickMs * 3
    this.#lastSweep = now
    // The event loop was blocked (GC pause, CPU-bound work): timers run before pending socket reads, so
    // replies that arrived meanwhile have not been read yet. Judge deadlines on the next tick instead.
    if (late) return
    const overdue: PendingCommand[] = []
    const live: PendingCommand[] = []
    const fifo = this.#fifo
    for (let i = this.#head; i < fifo.length; i++) {
      const op = fifo[i]
      if (op === undefined || op.settled) continue
      if (op.deadline <= now) overdue.push(op)
      else live.push(op)
    }
    this.#fifo = live
    this.#head = 0
    for (const op of overdue) {
      this.#settle(
        op,
        new CacheError('E_TIMEOUT', `${TAG} ${op.command} got no reply within ${op.timeoutMs}ms`, {
          details: { timeoutMs: op.timeoutMs },
        }),
      )
    }
  }

  #settle(op: PendingCommand, err: unknown, value?: unknown): void {
    if (op.settled) return
    op.settled = true
    // Replies mostly come back in send order: drop settled commands from the head right away.
    const fifo = this.#fifo
    while (this.#head < fifo.length && (fifo[this.#head] as PendingCommand).settled) {
      fifo[this.#head++] = undefined
    }
    if (this.#head === fifo.length) {
      fifo.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > fifo.length) {
      this.#fifo = fifo.slice(this.#head)
      this.#head = 0
    }
    if (err === undefined) {
      this.#done(undefined)
      if (op.timed) this.#publish(op.command, performance.now() - op.start)
      op.resolve(value)
      return
    }
    op.reject(this.#failed(op.command, op.start, err))
  }

  /** Counts one command out and feeds the breaker (undefined: success). */
  #done(error: CacheError | undefined): void {
    if (--this.#inflight === 0) this.#drained?.()
    const breaker = this.#o.breaker
    if (!breaker) return
    if (error === undefined || !isUnavailable(error)) breaker.success()
    else breaker.failure()
  }

  /** A failed command: its CacheError, after the breaker, cluster rediscovery and diagnostics saw it. */
  #failed(command: string, start: number, err: unknown): CacheError {
    const durationMs = performance.now() - start
    const error = toCacheError(err, command)
    if (this.#o.topology === 'cluster' && isUnavailable(error)) this.#o.onClusterUnavailable()
    // A command's own error (the server answered) counts as a success for the breaker.
    this.#done(error)
    // A NOSCRIPT reply is not published as a failed command: the registry sends EVAL next, published itself.
    if (!isNoScript(error)) this.#publish(command, durationMs, error.code)
    return error
  }

  #publish(command: string, durationMs: number, errorCode?: string): void {
    if (!commandChannel.hasSubscribers) return
    const event: CommandEvent = {
      command,
      topology: this.#o.topology,
      durationMs,
      ok: errorCode === undefined,
    }
    if (errorCode) event.errorCode = errorCode
    commandChannel.publish(event)
  }
}
