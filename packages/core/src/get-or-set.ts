import { type Connection, Lease, type ScriptFn, type Subscriber } from '@cache/client'
import type { Factory } from './cache.js'
import { FactoryError } from './errors.js'
import type { CacheKeys } from './keys.js'
import { leaseIfMissing } from './scripts/index.js'

/**
 * getOrSet across processes: one owner computes under the shared owner-token Lease of @cache/client
 * (`<ns>:l:{key}`, renewed while the factory runs); the others wait for its notification on `<ns>:gos`
 * (`d:<part>` done, `e:<part>:<ErrorName>` failed) or a jittered poll, then read the stored value.
 */

interface Waiter {
  fired: boolean
  message: string | undefined
  wake: () => void
}

/** What a flight needs from its cache. */
export interface FlightHost<T> {
  readonly conn: Connection
  readonly keys: CacheKeys
  /** The poll interval without notification (ms, jittered ×0.5–1.5). */
  readonly leasePoll: number
  check(op: string): void
  get(key: string): Promise<T | undefined>
  /** Stores the computed value (the cache's write path). */
  store(key: string, value: T): Promise<void>
  /** Counts an error (stats) and returns it. */
  fail<E>(err: E): E
}

/** The waiters of this process, woken by the notification channel, and the one subscription to it. */
export class LeaseWaiters {
  readonly #waiters = new Map<string, Set<Waiter>>()
  readonly #conn: Connection
  readonly #channel: string
  #subscribed: Promise<Subscriber> | undefined
  #listener: ((message: string) => void) | undefined

  constructor(conn: Connection, channel: string) {
    this.#conn = conn
    this.#channel = channel
  }

  wait(part: string): Waiter {
    const waiter: Waiter = { fired: false, message: undefined, wake: () => {} }
    let set = this.#waiters.get(part)
    if (!set) {
      set = new Set()
      this.#waiters.set(part, set)
    }
    set.add(waiter)
    return waiter
  }

  unwait(part: string, waiter: Waiter): void {
    const set = this.#waiters.get(part)
    if (!set) return
    set.delete(waiter)
    if (set.size === 0) this.#waiters.delete(part)
  }

  /** Subscribes once to the notification channel; waiters are woken by key. */
  subscribe(): Promise<Subscriber> {
    this.#subscribed ??= (async () => {
      const sub = await this.#conn.subscriber()
      this.#listener = (message: string) => {
        const part = message.slice(2, message.startsWith('e:') ? message.lastIndexOf(':') : undefined)
        const set = this.#waiters.get(part)
        if (!set) return
        for (const w of set) {
          w.fired = true
          w.message = message
          w.wake()
        }
      }
      await sub.subscribe(this.#channel, this.#listener)
      return sub
    })().catch((err) => {
      this.#subscribed = undefined
      throw err
    })
    return this.#subscribed
  }

  /** Wakes every waiter and unsubscribes. */
  async close(): Promise<void> {
    for (const set of this.#waiters.values()) for (const w of set) w.wake()
    if (this.#subscribed && this.#listener) {
      const listener = this.#listener
      await this.#subscribed.then((sub) => sub.unsubscribe(this.#channel, listener)).catch(() => {})
    }
  }
}

const acquireOf = new WeakMap<Connection, ScriptFn<number>>()

/** lease-if-missing.lua on `conn` (defined once per connection). */
function acquireScript(conn: Connection): ScriptFn<number> {
  let fn = acquireOf.get(conn)
  if (!fn) {
    fn = conn.defineScript<number>('core:lease-if-missing', leaseIfMissing, { keys: 2 })
    acquireOf.set(conn, fn)
  }
  return fn
}

/**
 * One flight of getOrSet for `key` in this process: read, lease (only while the value is still missing:
 * a value stored between our read and the lease is read, not computed again), compute or wait, repeat.
 */
export async function fly<T>(
  host: FlightHost<T>,
  waiters: LeaseWaiters,
  key: string,
  factory: Factory<T>,
  leaseMs: number,
): Promise<T> {
  // Without the notification channel, waiters still make progress through the jittered poll.
  await waiters.subscribe().catch(() => undefined)
  const part = host.keys.part(key)
  const lease = new Lease(host.conn, host.keys.lease(part), { ttl: leaseMs })
  const acquire = acquireScript(host.conn)
  for (;;) {
    host.check('getOrSet')
    const waiter = waiters.wait(part)
    try {
      const value = await host.get(key)
      if (value !== undefined) return value
      let got: number
      try {
        got = Number(await acquire([host.keys.valueOf(part), lease.key], [lease.token, leaseMs]))
      } catch (err) {
        throw host.fail(err)
      }
      if (got === 1) return await compute(host, lease, key, part, factory)
      if (got === 2) continue
      const poll = host.leasePoll * (0.5 + Math.random())
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, poll)
        waiter.wake = () => {
          clearTimeout(timer)
          resolve()
        }
        if (waiter.fired) waiter.wake()
      })
      if (waiter.message?.startsWith('e:'))
        throw new FactoryError(key, waiter.message.slice(2 + part.length + 1))
    } finally {
      waiters.unwait(part, waiter)
    }
  }
}

/** The lease holder: runs the factory (renewing the lease), stores the value, releases and notifies. */
async function compute<T>(host: FlightHost<T>, lease: Lease, key: string, part: string, factory: Factory<T>) {
  const channel = host.keys.channel
  const stop = lease.keepAlive()
  let value: T
  try {
    value = await factory({ key })
  } catch (err) {
    stop()
    // Only the error's name crosses processes (messages may hold data); ':' would break the framing.
    const name = (err instanceof Error ? err.name : typeof err).replace(/[^A-Za-z0-9_$.-]/g, '') || 'Error'
    await lease.release({ channel, message: `e:${part}:${name}` }).catch(() => {})
    throw err
  }
  try {
    await host.store(key, value)
  } finally {
    stop()
    await lease.release({ channel, message: `d:${part}` }).catch(() => {})
  }
  return value
}
