import { randomBytes } from 'node:crypto'
import {
  ClosedError,
  type Connection,
  type Duration,
  isCacheError,
  parseDuration,
  parseOptions,
  zDuration,
} from '@cache/client'
import { z } from 'zod'
import {
  DEFAULT_FAIL_CLOSED_RETRY_MS,
  DEFAULT_LEASE_MS,
  DEFAULT_PREFIX,
  MAX_LIMIT,
  MAX_WINDOW_MS,
} from './defaults.js'
import { RateLimitedError } from './errors.js'
import { RateLimitKeys } from './keys.js'
import type { OutagePolicy } from './options.js'
import * as scripts from './scripts/index.js'
import { checkKey } from './validate.js'

/** Options of `new ConcurrencyLimiter(conn, options)`. */
export interface ConcurrencyLimiterOptions {
  /** Requests in flight at once, per key. */
  limit: number
  /** A slot not released within this time is freed (its holder crashed or hung). @default '30s' */
  lease?: Duration
  /** Name of the limiter, part of its keys. @default 'inflight' */
  name?: string
  /** Namespace part under the connection's namespace. @default 'rl' */
  namespace?: string
  /** 'server': leases use Redis's TIME; 'client': `now()`. @default 'server' */
  clock?: 'server' | 'client'
  /** The client clock in ms. @default Date.now */
  now?: () => number
  /** While Redis is down: allow, deny, or count in-flight requests in this process. @default 'local' */
  outage?: OutagePolicy
}

/** A held concurrency slot. */
export interface Lease {
  /** The slot was granted. */
  readonly allowed: boolean
  /** Slots held for the key after this call. */
  readonly held: number
  /** The limit. */
  readonly limit: number
  /** When denied: ms until the earliest lease expires (an upper bound on the wait). */
  readonly retryAfterMs: number
  /** Gives the slot back; true when it was still held. Idempotent. */
  release(): Promise<boolean>
  /** Extends the lease by `duration` from now; false when it had already expired. */
  extend(duration?: Duration): Promise<boolean>
}

const schema = z.strictObject({
  limit: z.number().int().min(1).max(MAX_LIMIT),
  lease: zDuration({ min: 10, max: MAX_WINDOW_MS }).optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { message: "must be 1–64 letters, digits or '._-'" })
    .optional(),
  namespace: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { message: "must be 1–64 letters, digits or '._-'" })
    .optional(),
  clock: z.enum(['server', 'client']).optional(),
  now: z.custom<() => number>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
  outage: z.enum(['fail-open', 'fail-closed', 'local']).optional(),
})

/**
 * Limits requests in flight per key across processes: `acquire()` takes a slot (a lease in a sorted set),
 * `release()` gives it back; a holder that crashes loses its slot when the lease expires.
 */
export class ConcurrencyLimiter {
  readonly #conn: Connection
  readonly #keys: RateLimitKeys
  readonly #o: {
    limit: number
    leaseMs: number
    name: string
    clock: 'server' | 'client'
    now: () => number
    outage: OutagePolicy
  }
  readonly #local = new Map<string, number>()
  #closed = false
  readonly #acquire
  readonly #release

  /**
   * At most `limit` requests in flight per key, across processes.
   * @example
   * const inflight = new ConcurrencyLimiter(conn, { limit: 10, lease: '30s' })
   * await inflight.run(`user:${id}`, () => callModel(prompt))
   */
  constructor(conn: Connection, options: ConcurrencyLimiterOptions) {
    const o = parseOptions('@cache/ratelimit', schema, options)
    this.#conn = conn
    this.#keys = new RateLimitKeys(conn.keys.child(o.namespace ?? DEFAULT_PREFIX))
    this.#o = Object.freeze({
      limit: o.limit,
      leaseMs: o.lease ?? DEFAULT_LEASE_MS,
      name: o.name ?? 'inflight',
      clock: o.clock ?? 'server',
      now: o.now ?? Date.now,
      outage: o.outage ?? 'local',
    })
    this.#acquire = conn.defineScript<[number, number, number]>('ratelimit:acquire', scripts.acquire, {
      keys: 1,
    })
    this.#release = conn.defineScript<number>('ratelimit:release', scripts.release, { keys: 1 })
  }

  /**
   * Refuses new acquisitions (`acquire`/`run` reject with E_CLOSED); leases already taken stay valid until
   * released or expired. Idempotent; the connection stays open (it is yours).
   */
  async close(): Promise<void> {
    this.#closed = true
  }

  /** `await using inflight = new ConcurrencyLimiter(conn, …)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** The limit. */
  get limit(): number {
    return this.#o.limit
  }

  #now(): number | string {
    return this.#o.clock === 'client' ? this.#o.now() : ''
  }

  /** Takes a slot for `key` if one is free. Check `lease.allowed`; release it when done. */
  async acquire(keyArg: string): Promise<Lease> {
    const key = checkKey(keyArg)
    if (this.#closed) throw new ClosedError('[@cache/ratelimit] the ConcurrencyLimiter is closed')
    const k = this.#keys.inflight(key, this.#o.name)
    const token = randomBytes(9).toString('base64url')
    try {
      const [ok, held, earliest] = await this.#acquire(
        [k],
        [this.#now(), this.#o.limit, this.#o.leaseMs, token],
      )
      return this.#lease(
        ok === 1,
        Number(held),
        ok === 1 ? 0 : Math.max(1, Number(earliest)),
        async (extendMs) => {
          return (await this.#release([k], [this.#now(), token, extendMs])) === 1
        },
      )
    } catch (err) {
      if (!isCacheError(err, 'E_UNAVAILABLE') && !isCacheError(err, 'E_TIMEOUT')) throw err
      return this.#fallback(key)
    }
  }

  #fallback(key: string): Lease {
    const { outage, limit } = this.#o
    if (outage !== 'local') {
      const open = outage === 'fail-open'
      return this.#lease(open, 0, open ? 0 : DEFAULT_FAIL_CLOSED_RETRY_MS, async () => open)
    }
    const held = this.#local.get(key) ?? 0
    if (held >= limit) return this.#lease(false, held, DEFAULT_FAIL_CLOSED_RETRY_MS, async () => false)
    this.#local.set(key, held + 1)
    let done = false
    return this.#lease(true, held + 1, 0, async (extendMs) => {
      if (done) return false
      if (extendMs > 0) return true
      done = true
      const n = (this.#local.get(key) ?? 1) - 1
      if (n <= 0) this.#local.delete(key)
      else this.#local.set(key, n)
      return true
    })
  }

  #lease(
    allowed: boolean,
    held: number,
    retryAfterMs: number,
    call: (extendMs: number) => Promise<boolean>,
  ): Lease {
    let released: Promise<boolean> | undefined
    return {
      allowed,
      held,
      limit: this.#o.limit,
      retryAfterMs,
      release: () => {
        if (!allowed) return Promise.resolve(false)
        released ??= call(0)
        return released
      },
      extend: async (duration: Duration = this.#o.leaseMs) => {
        if (!allowed || released) return false
        const ms = parseDuration(duration, {
          field: 'duration',
          min: 10,
          max: MAX_WINDOW_MS,
          pkg: '@cache/ratelimit',
        })
        return call(ms)
      },
    }
  }

  /** Runs `fn` holding a slot for `key` and always releases it; throws RateLimitedError (E_RATE_LIMITED) when none is free. */
  async run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const lease = await this.acquire(key)
    if (!lease.allowed) throw new RateLimitedError(key, lease.retryAfterMs)
    try {
      return await fn()
    } finally {
      await lease.release().catch(() => false)
    }
  }

  /** Slots currently held for `key` (expired leases excluded). */
  async count(keyArg: string): Promise<number> {
    const k = this.#keys.inflight(checkKey(keyArg), this.#o.name)
    const now = this.#o.clock === 'client' ? this.#o.now() : Date.now()
    return Number(await this.#conn.send(['ZCOUNT', k, `(${now}`, '+inf'], { key: k }))
  }
}
