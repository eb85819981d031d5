import diagnostics from 'node:diagnostics_channel'
import { type CacheError, type Duration, parseDuration } from '@cache/client'
import * as D from './defaults.js'
import { LockExtendError, LockLostError } from './errors.js'

/** diagnostics_channel `cache:locks:lost`: `{ resource, token, code }` when a held lease is lost. */
export const lostChannel = diagnostics.channel('cache:locks:lost')
/** diagnostics_channel `cache:locks:held-too-long`: `{ resource, token, heldMs }`. */
export const heldTooLongChannel = diagnostics.channel('cache:locks:held-too-long')
/**
 * diagnostics_channel `cache:locks:wait`: `{ resource, outcome, waitedMs }` after every mutex acquisition attempt,
 * `outcome` being `acquired` (waitedMs ~0 when uncontended), `timeout` or `aborted`. Published only when subscribed.
 */
export const waitChannel = diagnostics.channel('cache:locks:wait')

/** The server-side operations of one lease, bound to its keys, owner and token. @internal */
export interface LeaseOps {
  /** true: extended; false: not the owner any more. */
  extend(ttlMs: number): Promise<boolean>
  /** true: released; false: not the owner any more. */
  release(): Promise<boolean>
}

/** How a Lock is created. @internal */
export interface LockInit {
  resource: string
  token: number
  ttlMs: number
  /** performance.now() when the successful attempt was sent: the lease runs from there. */
  startedAt: number
  ops: LeaseOps
  autoExtend: boolean
  heldTooLongMs?: number | undefined
  onHeldTooLong?: ((lock: Lock, heldMs: number) => void) | undefined
}

/** The local validity of a lease sent at `startedAt`: the server's TTL minus a clock-drift allowance. */
export function validUntil(startedAt: number, ttlMs: number): number {
  return startedAt + ttlMs - (ttlMs * D.DRIFT_FACTOR + D.DRIFT_CONSTANT_MS)
}

/**
 * A held lease: a mutex lock, a semaphore permit, a read or write share, or a Redlock. `token` is its fencing
 * token; `signal` aborts when the lease is lost (expired without extension, taken over, or a watchdog
 * extension that could not be confirmed before the lease ran out).
 * @example
 * const lock = await locks.acquire('invoice:42', { ttl: '10s', autoExtend: true })
 * try { await store.write(data, { fencingToken: lock.token, signal: lock.signal }) } finally { await lock.release() }
 */
export class Lock {
  /** The resource (or semaphore / read-write lock name). */
  readonly resource: string
  /** Fencing token: strictly increasing per resource; pass it to the storage you protect. */
  readonly token: number
  readonly #ops: LeaseOps
  // Created on first use of `signal` (or on loss): an AbortController and its timer cost more than a lock
  // cycle's own work, and most short critical sections never look at the signal.
  #controller: AbortController | undefined
  readonly #acquiredAt: number
  #ttlMs: number
  #validUntil: number
  #state: 'held' | 'released' | 'lost' = 'held'
  #lastExtendError: unknown
  #expiryTimer: NodeJS.Timeout | undefined
  #watchdog: NodeJS.Timeout | undefined
  #heldTimer: NodeJS.Timeout | undefined
  readonly #autoExtend: boolean

  /** @internal created by LockManager, Semaphore, ReadWriteLock and Redlock. */
  constructor(init: LockInit) {
    this.resource = init.resource
    this.token = init.token
    this.#ops = init.ops
    this.#ttlMs = init.ttlMs
    this.#acquiredAt = init.startedAt
    this.#validUntil = validUntil(init.startedAt, init.ttlMs)
    this.#autoExtend = init.autoExtend
    if (init.autoExtend) {
      this.#armExpiry()
      this.#scheduleWatchdog(init.ttlMs / 3)
    }
    const { heldTooLongMs, onHeldTooLong } = init
    if (heldTooLongMs !== undefined && onHeldTooLong) {
      this.#heldTimer = setTimeout(() => {
        if (this.#state === 'held') onHeldTooLong(this, performance.now() - this.#acquiredAt)
      }, heldTooLongMs)
      this.#heldTimer.unref()
    }
  }

  /** Aborted when the lease is lost; `signal.reason` is a LockLostError or a LockExtendError. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#state === 'held') {
        if (performance.now() >= this.#validUntil) this.#expire()
        else if (!this.#expiryTimer) this.#armExpiry()
      }
    }
    return this.#controller.signal
  }

  /** True while the lease is held (not released, not known to be lost, not run out by the local clock). */
  get held(): boolean {
    if (this.#state === 'held' && performance.now() >= this.#validUntil) this.#expire()
    return this.#state === 'held'
  }

  /** Milliseconds the lease is still valid by the local clock (with a drift allowance); 0 once lost. */
  get remainingMs(): number {
    return this.#state === 'held' ? Math.max(0, this.#validUntil - performance.now()) : 0
  }

  /** Milliseconds since acquisition. */
  get heldMs(): number {
    return performance.now() - this.#acquiredAt
  }

  #armExpiry(): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer)
    const delay = Math.max(0, this.#validUntil - performance.now())
    this.#expiryTimer = setTimeout(() => this.#expire(), delay)
    this.#expiryTimer.unref()
  }

  #expire(): void {
    if (this.#state !== 'held') return
    if (this.#lastExtendError !== undefined) this.#lose(this.#lastExtendError as CacheError)
    else this.#lose(new LockLostError(this.resource, this.token, `lease of ${this.#ttlMs}ms expired`))
  }

  #scheduleWatchdog(delay: number): void {
    if (this.#watchdog) clearTimeout(this.#watchdog)
    this.#watchdog = setTimeout(() => void this.#renew(), Math.max(1, delay))
    this.#watchdog.unref()
  }

  async #renew(): Promise<void> {
    if (this.#state !== 'held') return
    const started = performance.now()
    try {
      const ok = await this.#ops.extend(this.#ttlMs)
      if (this.#state !== 'held') return
      if (!ok) {
        this.#lose(
          new LockLostError(this.resource, this.token, 'the server no longer has it (expired or taken)'),
        )
        return
      }
      this.#lastExtendError = undefined
      this.#validUntil = validUntil(started, this.#ttlMs)
      this.#armExpiry()
      this.#scheduleWatchdog(this.#ttlMs / 3)
    } catch (err) {
      if (this.#state !== 'held') return
      // Keep trying while the lease lasts; the expiry timer aborts the signal if none succeeds in time.
      this.#lastExtendError = new LockExtendError(this.resource, this.token, err)
      this.#scheduleWatchdog(Math.min(this.#ttlMs / 3, Math.max(10, this.remainingMs / 3)))
    }
  }

  #lose(reason: CacheError): void {
    if (this.#state !== 'held') return
    this.#state = 'lost'
    this.#stopTimers()
    if (lostChannel.hasSubscribers)
      lostChannel.publish({ resource: this.resource, token: this.token, code: reason.code })
    this.#controller ??= new AbortController()
    this.#controller.abort(reason)
  }

  #stopTimers(): void {
    clearTimeout(this.#expiryTimer)
    clearTimeout(this.#watchdog)
    clearTimeout(this.#heldTimer)
  }

  #lostError(): LockLostError {
    const reason = this.signal.reason as CacheError
    return reason instanceof LockLostError
      ? reason
      : new LockLostError(this.resource, this.token, 'the watchdog could not extend it in time', reason)
  }

  /**
   * Extends the lease to `ttl` from now (default: the acquisition's ttl).
   * @throws LockLostError (E_LOCK_LOST) when the lease was lost; LockExtendError (E_LOCK_EXTEND_FAILED)
   * when the server could not confirm (the lease may still be held until it expires).
   */
  async extend(ttl?: Duration): Promise<void> {
    const ttlMs =
      ttl === undefined
        ? this.#ttlMs
        : parseDuration(ttl, { field: 'ttl', min: D.MIN_TTL_MS, max: D.MAX_TTL_MS, pkg: '@cache/locks' })
    if (this.#state === 'released')
      throw new LockLostError(this.resource, this.token, 'it was released by its holder')
    if (!this.held) throw this.#lostError()
    const started = performance.now()
    let ok: boolean
    try {
      ok = await this.#ops.extend(ttlMs)
    } catch (err) {
      throw new LockExtendError(this.resource, this.token, err)
    }
    if (!ok) {
      this.#lose(
        new LockLostError(this.resource, this.token, 'the server no longer has it (expired or taken)'),
      )
      throw this.#lostError()
    }
    if (this.#state !== 'held') throw this.#lostError()
    this.#ttlMs = ttlMs
    this.#lastExtendError = undefined
    this.#validUntil = validUntil(started, ttlMs)
    if (this.#controller || this.#autoExtend) this.#armExpiry()
    if (this.#autoExtend) this.#scheduleWatchdog(ttlMs / 3)
  }

  /**
   * Releases the lease (only the owner's token can). Releasing twice is a no-op.
   * @throws LockLostError (E_LOCK_LOST) when the lease had been lost: the work done under it was not
   * protected. Server errors (E_UNAVAILABLE…) pass through; the lease then expires by its TTL.
   */
  async release(): Promise<void> {
    if (this.#state === 'released') return
    if (!this.held) {
      // Clean up in case the server still has it (lost by the local clock only), but report the loss.
      await this.#ops.release().catch(() => false)
      throw this.#lostError()
    }
    this.#state = 'released'
    this.#stopTimers()
    const ok = await this.#ops.release()
    if (!ok) {
      this.#state = 'held'
      this.#lose(new LockLostError(this.resource, this.token, 'the server no longer had it at release'))
      throw this.#lostError()
    }
  }

  /** `await using lock = await locks.acquire(…)` releases at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }
}

/**
 * Acquires (by awaiting `acquire`), runs `fn` with the lock and always releases it. When `fn` throws, its
 * error is the one the caller sees (a failed release is then ignored); when `fn` succeeds, a failed
 * release (E_LOCK_LOST) is thrown. The one acquire → run → release of every `using`/`withRead`/`withWrite`.
 */
export async function runHolding<T>(
  acquire: Promise<Lock> | (() => Promise<Lock>),
  fn: (lock: Lock) => Promise<T> | T,
): Promise<T> {
  const lock = await (typeof acquire === 'function' ? acquire() : acquire)
  let result: T
  try {
    result = await fn(lock)
  } catch (err) {
    await lock.release().catch(() => {})
    throw err
  }
  await lock.release()
  return result
}
