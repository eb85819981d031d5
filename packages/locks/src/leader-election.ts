import { EventEmitter } from 'node:events'
import { type Connection, isCacheError, parseOptions, sleep } from '@cache/client'
import type { Lock } from './lock.js'
import { defaultId, LockManager } from './lock-manager.js'
import { checkName, type LeaderElectionOptions, leaderSchema, PKG } from './options.js'

/** Payload of the `elected` and `revoked` events. */
export interface LeadershipEvent {
  /** The term: the fencing token of the leadership lease, strictly increasing across leaders. */
  term: number
  /** `revoked` only: why (`'resigned'`, or the E_* code of the loss). */
  reason?: string
}

/** The current leader as the server sees it. */
export interface LeaderInfo {
  id: string
  term: number
}

/**
 * Leader election on a leased mutex: candidates wait (by notification) for the leadership lock; the leader
 * renews it every ttl/3 and is `revoked` as soon as a renewal fails or the lease is lost. The term number is
 * the lease's fencing token: pass it along with the leader's writes so a deposed leader's late writes can be
 * rejected.
 *
 * Events: `elected` (LeadershipEvent), `revoked` (LeadershipEvent), `error` (only if listened to).
 * @example
 * const election = new LeaderElection(conn, 'scheduler', { ttl: '5s' })
 * election.on('elected', ({ term }) => startScheduling(term))
 * election.on('revoked', () => stopScheduling())
 * await election.start()
 */
export class LeaderElection extends EventEmitter {
  /** The election's name. */
  readonly name: string
  /** This candidate's id. */
  readonly id: string
  readonly #locks: LockManager
  readonly #ttlMs: number
  readonly #retryIntervalMs: number
  #stop: AbortController | undefined
  #loop: Promise<void> | undefined
  #lock: Lock | undefined

  constructor(conn: Connection, name: string, options: LeaderElectionOptions = {}) {
    super()
    this.name = checkName('name', name)
    const o = parseOptions(PKG, leaderSchema, options)
    this.id = o.id ?? defaultId()
    this.#ttlMs = o.ttl
    this.#retryIntervalMs = o.retryInterval
    this.#locks = new LockManager(conn, {
      namespace: o.namespace,
      id: this.id,
      fencing: o.fencing,
      retryInterval: o.retryInterval,
    })
  }

  /** True while this candidate holds the leadership lease. */
  get isLeader(): boolean {
    return this.#lock?.held === true
  }

  /** This candidate's current term, while leader. */
  get term(): number | undefined {
    return this.isLeader ? this.#lock?.token : undefined
  }

  /** The leader now (any candidate), or null when there is none. */
  async leader(): Promise<LeaderInfo | null> {
    const info = await this.#locks.inspect(this.name)
    return info ? { id: info.holder, term: info.token } : null
  }

  /** Starts campaigning (returns at once; listen for `elected`). Idempotent. */
  async start(): Promise<void> {
    if (this.#loop) return
    const stop = new AbortController()
    this.#stop = stop
    this.#loop = this.#campaign(stop.signal)
  }

  /** Stops campaigning and resigns if leader (`revoked` with reason 'resigned'). Idempotent; `start()` may campaign again. */
  async close(): Promise<void> {
    const loop = this.#loop
    if (!loop) return
    this.#stop?.abort()
    await loop
    this.#loop = undefined
  }

  /** `await using election = new LeaderElection(…)` resigns at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #campaign(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      let lock: Lock
      try {
        lock = await this.#locks.acquire(this.name, {
          ttl: this.#ttlMs,
          waitTimeout: Math.max(this.#ttlMs * 3, 1000),
          autoExtend: true,
          signal: stop,
        })
      } catch (err) {
        if (stop.aborted) break
        if (!isCacheError(err, 'E_LOCK_TIMEOUT')) {
          if (this.listenerCount('error') > 0) this.emit('error', err)
          await sleep(this.#retryIntervalMs, stop).catch(() => {}) // an abort ends the wait early
        }
        continue
      }
      this.#lock = lock
      this.emit('elected', { term: lock.token } satisfies LeadershipEvent)
      await new Promise<void>((resolve) => {
        if (lock.signal.aborted || stop.aborted) return resolve()
        lock.signal.addEventListener('abort', () => resolve(), { once: true })
        stop.addEventListener('abort', () => resolve(), { once: true })
      })
      this.#lock = undefined
      if (lock.signal.aborted) {
        const reason = (lock.signal.reason as { code?: string } | undefined)?.code ?? 'E_LOCK_LOST'
        this.emit('revoked', { term: lock.token, reason } satisfies LeadershipEvent)
        await sleep(this.#retryIntervalMs, stop).catch(() => {}) // an abort ends the wait early
      } else {
        await lock.release().catch(() => {})
        this.emit('revoked', { term: lock.token, reason: 'resigned' } satisfies LeadershipEvent)
      }
    }
  }
}
