import { backoff, type Connection, isCacheError, type Subscriber } from '@cache/client'
import { LockAbortedError, LockTimeoutError } from './errors.js'

/** A waiter's interest in a channel. */
interface Listener {
  /** Whether a message concerns this waiter (fair queues name the waiter to wake). */
  accept: (message: string) => boolean
  wake: (message: string) => void
  /** Wake on every accepted message (read-write locks: a released writer lets every reader in). */
  all: boolean
}

interface Channel {
  listeners: Set<Listener>
  ready: Promise<void>
  dispatch: (message: string) => void
  /** Subscribed (the server acknowledged it). */
  live: boolean
  /** Messages dispatched so far that no listener accepted. */
  seq: number
}

/** Where a channel stood before an attempt was sent (see `Notifier.mark`). */
export interface ChannelMark {
  readonly channel: string
  readonly entry: Channel
  readonly seq: number
}

/**
 * Wake-up notifications for waiters: one pub/sub subscription per channel and Connection, shared by every
 * waiter of the process (reference counted). Sharded pub/sub (SSUBSCRIBE) on a cluster, so a release only
 * reaches the shard of its resource; plain SUBSCRIBE elsewhere. A failing subscriber never fails a wait:
 * waiters fall back to polling.
 */
export class Notifier {
  readonly #conn: Connection
  readonly #sharded: boolean
  readonly #channels = new Map<string, Channel>()

  constructor(conn: Connection) {
    this.#conn = conn
    this.#sharded = conn.topology === 'cluster'
  }

  /** True when releases publish with SPUBLISH (cluster). */
  get sharded(): boolean {
    return this.#sharded
  }

  /** Subscribes `listener` to `channel`; resolves once subscribed (or failed); returns the unsubscribe. */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    let entry = this.#channels.get(channel)
    if (!entry) {
      const listeners = new Set<Listener>()
      // One release frees one lock or permit: wake one waiter of this process, not all of them, so a
      // release never starts a retry storm. The woken waiter moves to the back of the line, so a waiter
      // that keeps losing the race to a barging caller does not keep the others from their turn; the
      // fallback poll covers a waiter that was woken in vain.
      const dispatch = (message: string) => {
        let woken: Listener | undefined
        let accepted = false
        for (const l of listeners) {
          if (!l.accept(message)) continue
          accepted = true
          if (l.all) l.wake(message)
          else if (!woken) {
            l.wake(message)
            woken = l
          }
        }
        if (woken && !woken.all) {
          listeners.delete(woken)
          listeners.add(woken)
        }
        // A message no listener took may be for a waiter still registering (see quietSince).
        if (!accepted) created.seq++
      }
      const created: Channel = { listeners, dispatch, ready: Promise.resolve(), live: false, seq: 0 }
      created.ready = this.#subscriber()
        .then((sub) => (this.#sharded ? sub.sSubscribe(channel, dispatch) : sub.subscribe(channel, dispatch)))
        .then(
          () => {
            created.live = true
          },
          () => {},
        )
      created.ready = created.ready.catch(() => {})
      this.#channels.set(channel, created)
      entry = created
    }
    entry.listeners.add(listener)
    await entry.ready
    const current = entry
    return () => {
      current.listeners.delete(listener)
      if (current.listeners.size > 0 || this.#channels.get(channel) !== current) return
      this.#channels.delete(channel)
      void current.ready
        .then(() => this.#subscriber())
        .then((sub) =>
          this.#sharded
            ? sub.sUnsubscribe(channel, current.dispatch)
            : sub.unsubscribe(channel, current.dispatch),
        )
        .catch(() => {})
    }
  }

  /**
   * Where `channel` stands now, taken before an attempt is sent; undefined when it is not subscribed yet.
   * Any release that runs after the attempt publishes a message that this process reads after the mark.
   */
  mark(channel: string): ChannelMark | undefined {
    const entry = this.#channels.get(channel)
    return entry?.live ? { channel, entry, seq: entry.seq } : undefined
  }

  /**
   * True when `mark`'s channel stayed subscribed and every message since was taken by a listener: a waiter
   * that registered its listener now missed nothing it would have got as one more listener (a wake-up goes
   * to one waiter of the process; a handoff names its waiter), so it needs no attempt to catch a release
   * that came before its listener.
   */
  quietSince(mark: ChannelMark): boolean {
    return this.#channels.get(mark.channel) === mark.entry && mark.entry.live && mark.entry.seq === mark.seq
  }

  #subscriber(): Promise<Subscriber> {
    return this.#conn.subscriber()
  }
}

const notifiers = new WeakMap<Connection, Notifier>()

/** The Notifier of a Connection (one per Connection, shared by every lock type). */
export function notifierFor(conn: Connection): Notifier {
  let n = notifiers.get(conn)
  if (!n) {
    n = new Notifier(conn)
    notifiers.set(conn, n)
  }
  return n
}

/** `base` ±50%, so waiters that woke together do not retry together. */
export function jitter(base: number, random: () => number = Math.random): number {
  return backoff({ attempt: 0, base, max: base, jitter: 0.5, random })
}

/** The outcome of one acquisition attempt. */
export type Attempt<T> =
  | { ok: true; value: T; startedAt: number }
  | {
      ok: false
      retryInMs: number
      holder?: string
      /** performance.now() when the attempt was sent: a handoff after it started its lease later. */
      sentAt?: number
    }

/** Wake-up settings of a wait. */
export interface NotifySpec<T = unknown> {
  notifier: Notifier
  channel: string
  accept: (message: string) => boolean
  /** Wake on every message instead of one waiter per message and process. @default false */
  all?: boolean
  /**
   * The lease a message hands this waiter directly (a mutex release that gave it the lock), if it is one:
   * the wait ends with its value, no further attempt. `elapsedMs` is how long after this waiter's last busy
   * attempt ran the lease started (server clock), so the lease is timed from that attempt's `sentAt` plus it.
   */
  handoff?: ((message: string) => { token: T; elapsedMs: number } | undefined) | undefined
  /** The channel's mark taken before the first attempt was sent: skips the attempt after subscribing. */
  since?: ChannelMark | undefined
}

/** What `waitLoop` needs. */
export interface WaitSpec<T> {
  resource: string
  attempt: () => Promise<Attempt<T>>
  /** The result of an attempt the caller already made (skips the first attempt). */
  first?: Attempt<T> | undefined
  waitTimeoutMs: number
  retryIntervalMs: number
  signal?: AbortSignal | undefined
  /** Wake-ups: a channel and a filter of messages that concern this waiter. */
  notify?: NotifySpec<T> | undefined
  /** Called once when the first attempt failed and the caller starts waiting, with the holder if known. */
  onWait?: ((holder: string | undefined) => void) | undefined
  /** Called once when the wait ends (acquired, timed out or aborted) if `onWait` was called. */
  onWaitEnd?: (() => void) | undefined
  /** Called when the wait is given up (timeout, abort), e.g. to leave a fair queue. */
  onGiveUp?: (() => Promise<void>) | undefined
}

/**
 * Tries, and while the resource is busy waits for a wake-up message, the lease's expiry or a jittered
 * fallback poll (whichever comes first), then tries again, until `waitTimeoutMs`. Never spins: every retry
 * follows a message or a timer.
 * @throws LockTimeoutError, LockAbortedError
 */
export async function waitLoop<T>(spec: WaitSpec<T>): Promise<{ value: T; startedAt: number }> {
  const started = performance.now()
  const { signal } = spec
  if (signal?.aborted) throw new LockAbortedError(spec.resource, signal.reason)
  let result = spec.first ?? (await spec.attempt())
  if (result.ok) return result
  if (spec.waitTimeoutMs <= 0) throw new LockTimeoutError(spec.resource, performance.now() - started)
  let lastError: unknown
  // While waiting, a server that cannot be reached (restart, failover) is waited out like a busy lock.
  const attempt = async (): Promise<Attempt<T>> => {
    try {
      return await spec.attempt()
    } catch (err) {
      if (!isCacheError(err, 'E_UNAVAILABLE') && !isCacheError(err, 'E_TIMEOUT')) throw err
      lastError = err
      return { ok: false, retryInMs: 0 }
    }
  }
  const deadline = started + spec.waitTimeoutMs
  let pending = false
  let wake: (() => void) | undefined
  // A direct handoff: the lease is ours already, timed from the last busy attempt's send (it started later).
  const handoff = spec.notify?.handoff
  let handed: { value: T; startedAt: number } | undefined
  let busySentAt = result.sentAt ?? started
  const poke = (message?: string) => {
    if (handoff !== undefined && message !== undefined && handed === undefined) {
      const h = handoff(message)
      if (h !== undefined) handed = { value: h.token, startedAt: busySentAt + h.elapsedMs }
    }
    pending = true
    wake?.()
  }
  const settle = (r: Attempt<T>): { value: T; startedAt: number } | undefined => {
    if (r.ok) return r
    if (r.sentAt !== undefined && r.sentAt > busySentAt && handed === undefined) busySentAt = r.sentAt
    return handed
  }
  let unlisten: (() => void) | undefined
  const onAbort = () => poke()
  signal?.addEventListener('abort', onAbort)
  spec.onWait?.(result.holder)
  let acquired = false
  try {
    if (spec.notify) {
      const { accept, all = false } = spec.notify
      const { notifier, since } = spec.notify
      unlisten = await notifier.listen(spec.notify.channel, { accept, wake: poke, all })
      // The release may have happened before the subscription was in place: try again at once, unless the
      // channel was subscribed before the first attempt was sent and has carried no message since.
      if (since === undefined || !notifier.quietSince(since)) {
        result = await attempt()
        const done = settle(result)
        if (done) {
          acquired = true
          return done
        }
      }
    }
    for (;;) {
      if (signal?.aborted) throw new LockAbortedError(spec.resource, signal.reason)
      const remaining = deadline - performance.now()
      // A handoff already in hand (it set `pending`) is taken below, even at the deadline.
      if (remaining <= 0 && handed === undefined)
        throw new LockTimeoutError(spec.resource, performance.now() - started, {}, lastError)
      if (!pending) {
        // Wake at the lease's expiry (plus a little jitter) or the fallback poll, whichever is first.
        const retryIn = result.ok ? 0 : result.retryInMs
        const expiry = retryIn > 0 ? retryIn + jitter(5) : Number.POSITIVE_INFINITY
        const delay = Math.min(remaining, expiry, jitter(spec.retryIntervalMs))
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay)
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        wake = undefined
      }
      pending = false
      if (signal?.aborted) throw new LockAbortedError(spec.resource, signal.reason)
      if (handed) {
        acquired = true
        return handed
      }
      result = await attempt()
      const done = settle(result)
      if (done) {
        acquired = true
        return done
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    unlisten?.()
    spec.onWaitEnd?.()
    if (!acquired && spec.onGiveUp) await spec.onGiveUp().catch(() => {})
  }
}
