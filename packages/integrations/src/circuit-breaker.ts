import { EventEmitter } from 'node:events'
import {
  ClosedError,
  type Connection,
  InvalidArgumentError,
  type ScriptFn,
  type Subscriber,
  withDeadline,
} from '@cache/client'
import {
  type CircuitBreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
  zBreakerName,
} from './breaker-options.js'
import { PKG } from './defaults.js'
import { breakerStateChannel } from './diagnostics.js'
import { CircuitOpenError } from './errors.js'
import { BreakerKeys } from './keys.js'
import * as lua from './scripts/index.js'

/** A breaker's state. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** Counters of one breaker in this process. */
export interface CircuitStats {
  name: string
  state: CircuitState
  /** Calls that ran (closed or as a probe). */
  calls: number
  successes: number
  failures: number
  /** Calls refused with E_CIRCUIT_OPEN. */
  rejected: number
  /** Refusals decided in this process without a round trip (the open fast path). */
  rejectedLocally: number
  /** Calls this process ran as half-open probes. */
  probes: number
  /** State changes this process saw. */
  transitions: number
  /** Outcomes that could not be reported to Redis. */
  reportErrors: number
}

type Reply = [string, number | string, number | string, (number | string)?]

const STATES: Record<string, CircuitState> = { c: 'closed', o: 'open', h: 'half-open' }

/**
 * A circuit breaker whose closed / open / half-open state is shared by every process through Redis: the
 * failure rate over a sliding window of calls (all processes together) opens it; while it is open every
 * process refuses calls in-process, without a round trip; after `openFor` exactly `halfOpenProbes` calls
 * (in the whole fleet) probe the dependency, and the breaker closes everywhere when they all succeed, or
 * opens again when one fails. Transitions are published, so every process changes state together.
 * Events: `state` (`{ from, to }`), `open`, `half-open`, `close`.
 * @example
 * const breaker = new CircuitBreaker(conn, 'payments', { failureRate: 0.5, minimumCalls: 20, openFor: '30s' })
 * const receipt = await breaker.execute(() => payments.charge(order))
 */
export class CircuitBreaker extends EventEmitter {
  /** The breaker's name (shared by every process using it). */
  readonly name: string
  /** The resolved options. */
  readonly options: ResolvedBreakerOptions
  readonly #conn: Connection
  readonly #key: string
  readonly #channel: string
  readonly #lifetime: number
  readonly #scripts: {
    record: ScriptFn<Reply>
    acquire: ScriptFn<Reply>
    probe: ScriptFn<Reply>
    force: ScriptFn<Reply>
  }
  readonly #listener = (message: string) => this.#onMessage(message)
  readonly #subscribed: Promise<Subscriber | undefined>
  #state: CircuitState = 'closed'
  #generation = -1
  #openUntil = 0
  #closed = false
  readonly #stats = {
    calls: 0,
    successes: 0,
    failures: 0,
    rejected: 0,
    rejectedLocally: 0,
    probes: 0,
    transitions: 0,
    reportErrors: 0,
  }

  constructor(conn: Connection, name: string, options: CircuitBreakerOptions = {}) {
    super()
    const parsed = zBreakerName.safeParse(name)
    if (!parsed.success) throw new InvalidArgumentError(PKG, 'name', parsed.error.issues[0]!.message)
    this.name = name
    this.options = resolveBreakerOptions(options)
    this.#conn = conn
    const keys = new BreakerKeys(conn.keys.child(this.options.namespace))
    this.#key = keys.state(name)
    this.#channel = keys.channel(name)
    const o = this.options
    this.#lifetime = o.window + o.openFor + o.probeTimeout + 60_000
    this.#scripts = {
      record: conn.defineScript('integrations:breaker-record', lua.breakerRecord, { keys: 1 }),
      acquire: conn.defineScript('integrations:breaker-acquire', lua.breakerAcquire, { keys: 1 }),
      probe: conn.defineScript('integrations:breaker-probe', lua.breakerProbe, { keys: 1 }),
      force: conn.defineScript('integrations:breaker-force', lua.breakerForce, { keys: 1 }),
    }
    this.#subscribed = conn
      .subscriber()
      .then(async (sub) => {
        await sub.subscribe(this.#channel, this.#listener)
        return sub
      })
      // Without notifications every process still learns the state from its own script replies.
      .catch(() => undefined)
  }

  /** Resolves once this process listens to the breaker's transitions (and has read the current state). */
  async ready(): Promise<this> {
    await this.#subscribed
    await this.refresh()
    return this
  }

  /** The state as this process knows it (an open breaker whose time is up reads 'half-open'). */
  get state(): CircuitState {
    if (this.#state === 'open' && Date.now() >= this.#openUntil) return 'half-open'
    return this.#state
  }

  /** Reads the shared state from Redis. */
  async refresh(): Promise<CircuitState> {
    const [s, g, u] = (await this.#conn.send(['HMGET', this.#key, 's', 'g', 'u'], {
      key: this.#key,
    })) as Array<string | null>
    const time = (await this.#conn.send(['TIME'], { key: this.#key })) as [string, string]
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
    this.#apply(s ?? 'c', Number(g ?? 0), s === 'o' ? Math.max(0, Number(u) - now) : 0)
    return this.state
  }

  /**
   * Runs `fn` through the breaker: refused with E_CIRCUIT_OPEN while open (in-process, no round trip) or
   * when half-open and every probe is taken; otherwise run, and its outcome counted in the shared window.
   * `fn`'s own error is rethrown as is.
   */
  async execute<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#closed) throw new ClosedError(`[${PKG}] CircuitBreaker "${this.name}" is closed`)
    if (typeof fn !== 'function') throw new InvalidArgumentError(PKG, 'fn', 'must be a function')
    if (this.#state === 'closed') return this.#run(fn, undefined)
    const left = this.#openUntil - Date.now()
    if (this.#state === 'open' && left > 0) {
      this.#stats.rejected++
      this.#stats.rejectedLocally++
      throw new CircuitOpenError(this.name, 'open', left)
    }
    const o = this.options
    let reply: Reply
    try {
      reply = await this.#scripts.acquire(
        [this.#key],
        [o.halfOpenProbes, o.openFor, o.probeTimeout, this.#channel, this.#lifetime],
      )
    } catch (err) {
      // Probes cannot be counted without Redis: stay refusing rather than let every process probe at once.
      this.#stats.rejected++
      const state = this.#current()
      throw new CircuitOpenError(this.name, state === 'closed' ? 'open' : state, o.openFor, err)
    }
    const generation = Number(reply[1])
    this.#apply(String(reply[0]), generation, Number(reply[2]))
    const now = this.#current()
    if (Number(reply[3]) !== 1) {
      this.#stats.rejected++
      const state = now === 'closed' ? 'half-open' : now
      throw new CircuitOpenError(
        this.name,
        state,
        state === 'open' ? Math.max(0, this.#openUntil - Date.now()) : 0,
      )
    }
    if (now === 'closed') return this.#run(fn, undefined)
    this.#stats.probes++
    return this.#run(fn, generation)
  }

  /** Opens the breaker everywhere for `duration` (default `openFor`): an operator's override. */
  async open(duration?: number): Promise<void> {
    const ms = duration ?? this.options.openFor
    if (!Number.isSafeInteger(ms) || ms < 1)
      throw new InvalidArgumentError(PKG, 'duration', 'must be a positive integer of ms')
    this.#applyReply(await this.#scripts.force([this.#key], ['o', ms, this.#channel, this.#lifetime]))
  }

  /** Closes the breaker everywhere and empties its window. */
  async reset(): Promise<void> {
    this.#applyReply(await this.#scripts.force([this.#key], ['c', 0, this.#channel, this.#lifetime]))
  }

  /** Counters of this process. */
  stats(): CircuitStats {
    return { name: this.name, state: this.state, ...this.#stats }
  }

  /** Stops listening to transitions. Idempotent; the connection stays open (it is yours). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const sub = await this.#subscribed
    await sub?.unsubscribe(this.#channel, this.#listener).catch(() => {})
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #run<T>(fn: () => T | Promise<T>, probeGeneration: number | undefined): Promise<T> {
    const o = this.options
    this.#stats.calls++
    let ok = true
    let failed = false
    let error: unknown
    let value: T | undefined
    try {
      const p = Promise.resolve().then(fn)
      value =
        o.callTimeout === false
          ? await p
          : await withDeadline(p, o.callTimeout, `circuit "${this.name}" call`)
    } catch (err) {
      failed = true
      error = err
      ok = o.isFailure ? !o.isFailure(err) : false
    }
    if (ok) this.#stats.successes++
    else this.#stats.failures++
    try {
      const reply =
        probeGeneration === undefined
          ? await this.#scripts.record(
              [this.#key],
              [
                ok ? 1 : 0,
                o.window,
                o.buckets,
                o.minimumCalls,
                o.failureRate,
                o.openFor,
                this.#channel,
                this.#lifetime,
              ],
            )
          : await this.#scripts.probe(
              [this.#key],
              [ok ? 1 : 0, probeGeneration, o.halfOpenProbes, o.openFor, this.#channel, this.#lifetime],
            )
      this.#applyReply(reply)
    } catch {
      // The caller gets its result; the window misses one outcome.
      this.#stats.reportErrors++
    }
    if (failed) throw error
    return value as T
  }

  /** The state now (a method, so TypeScript does not narrow it across awaits). */
  #current(): CircuitState {
    return this.#state
  }

  #applyReply(reply: Reply): void {
    this.#apply(String(reply[0]), Number(reply[1]), Number(reply[2]))
  }

  #onMessage(message: string): void {
    const [s, g, ms] = message.split(':')
    if (s && g !== undefined && ms !== undefined) this.#apply(s, Number(g), Number(ms))
  }

  /** Takes a state reported by Redis, unless this process already knows a newer generation. */
  #apply(code: string, generation: number, remainingMs: number): void {
    const to = STATES[code]
    if (!to || !Number.isFinite(generation) || generation < this.#generation) return
    this.#generation = generation
    if (to === 'open') this.#openUntil = Date.now() + remainingMs
    const from = this.#state
    if (from === to) return
    this.#state = to
    this.#stats.transitions++
    const event = { name: this.name, from, to }
    if (breakerStateChannel.hasSubscribers) breakerStateChannel.publish(event)
    this.emit('state', event)
    this.emit(to === 'closed' ? 'close' : to, event)
  }
}
