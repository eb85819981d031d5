/**
 * A Store for express-rate-limit backed by @cache/ratelimit: existing express-rate-limit users switch by
 * one line and get exact, atomic limits on Redis (any algorithm, Cluster, outage policy, block cache).
 * Import from `@cache/integrations/express-rate-limit`.
 * @example app.use(rateLimit({ windowMs: 60_000, limit: 100, store: new RateLimitStore(limiter) }))
 */
import { InvalidArgumentError, InvalidOptionError } from '@cache/client'
import type { Limiter, RateLimitResult } from '@cache/ratelimit'
import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit'
import { PKG } from './defaults.js'

/** Options of `new RateLimitStore(limiter, options)`. */
export interface RateLimitStoreOptions {
  /** Prefix of every key the store hands the limiter. @default 'erl:' */
  prefix?: string
}

/** How long a denial waits for express-rate-limit's decrement of its 429 (sent at once, so decremented at once). */
const DENIAL_MARK_MS = 10_000
/** Keys whose denials are remembered at most (the oldest key is forgotten first). */
const DENIAL_MARKS_MAX_KEYS = 10_000

/** The single-rule limit of a RateLimiter (a CombinedLimiter has several and is not checked). */
function ruleLimit(limiter: Limiter): number | undefined {
  const rule = (limiter as { rule?: { params?: { limit?: unknown } } }).rule
  return typeof rule?.params?.limit === 'number' ? rule.params.limit : undefined
}

/** express-rate-limit's view of a decision: hits so far and when the window resets. */
function info(result: RateLimitResult, now: number): ClientRateLimitInfo {
  const totalHits = result.allowed ? Math.max(1, result.limit - result.remaining) : result.limit + 1
  const resetMs = result.allowed ? result.resetAfterMs : result.retryAfterMs
  return { totalHits, resetTime: new Date(now + resetMs) }
}

/**
 * An express-rate-limit `Store` that asks a @cache/ratelimit `RateLimiter` (or `CombinedLimiter`): the
 * limiter decides (its algorithm, limit and window), and the store reports hits so that
 * express-rate-limit's own comparison agrees: an allowed request has at most `limit` hits, a denied one
 * `limit + 1`. express-rate-limit's `limit` must equal the limiter's (checked in `init`).
 */
export class RateLimitStore implements Store {
  /** Keys live in Redis, shared by every process. */
  readonly localKeys = false
  readonly prefix: string
  readonly #limiter: Limiter
  /** Keys with denied hits waiting for their decrement: times (ms) of the denials. */
  readonly #denied = new Map<string, number[]>()
  #markDenials = false

  constructor(limiter: Limiter, options: RateLimitStoreOptions = {}) {
    if (!limiter || typeof limiter.consume !== 'function' || typeof limiter.peek !== 'function')
      throw new InvalidArgumentError(
        PKG,
        'limiter',
        'must be a RateLimiter or CombinedLimiter of @cache/ratelimit',
      )
    if (options.prefix !== undefined && typeof options.prefix !== 'string')
      throw new InvalidOptionError(PKG, 'prefix', 'must be a string')
    this.#limiter = limiter
    this.prefix = options.prefix ?? 'erl:'
  }

  /** Called by express-rate-limit with its options: refuses settings the limiter cannot honour. */
  init(options: Options): void {
    const limit = ruleLimit(this.#limiter)
    if (typeof options.limit === 'number' && limit !== undefined && options.limit !== limit)
      throw new InvalidOptionError(
        PKG,
        'limit',
        `must equal the limiter's limit (${limit}), got ${options.limit}: the limiter decides, express-rate-limit compares`,
      )
    // A denial counts nothing in the limiter, but express-rate-limit decrements its 429 as a failed request.
    this.#markDenials = options.skipFailedRequests === true
  }

  /** Counts a hit (one `consume`). */
  async increment(key: string): Promise<IncrementResponse> {
    const result = await this.#limiter.consume(this.prefix + key)
    const now = Date.now()
    if (!result.allowed && this.#markDenials) this.#markDenial(key, now)
    return info(result, now) as IncrementResponse
  }

  #markDenial(key: string, now: number): void {
    const times = this.#denied.get(key)
    if (times) times.push(now)
    else this.#denied.set(key, [now])
    if (this.#denied.size > DENIAL_MARKS_MAX_KEYS) {
      const oldest = this.#denied.keys().next().value
      if (oldest !== undefined) this.#denied.delete(oldest)
    }
  }

  /** Takes one recent denial mark of `key`: that decrement is for a hit the limiter never counted. */
  #takeDenial(key: string, now: number): boolean {
    const times = this.#denied.get(key)
    if (!times) return false
    while (times.length && now - times[0]! > DENIAL_MARK_MS) times.shift()
    const took = times.shift() !== undefined
    if (!times.length) this.#denied.delete(key)
    return took
  }

  /** The hits of a key, without counting one (`peek`). */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const r = await this.#limiter.peek(this.prefix + key)
    const used = r.limit - r.remaining
    return { totalHits: r.allowed ? used : r.limit + 1, resetTime: new Date(Date.now() + r.resetAfterMs) }
  }

  /**
   * Gives the hit back (the limiter's `refund`): express-rate-limit calls it for `skipSuccessfulRequests` /
   * `skipFailedRequests`. With `skipFailedRequests` it also decrements its own 429s, hits the limiter
   * denied and so never counted: the store remembers this process's recent denials per key and gives
   * nothing back for those. A hit counted in a window that is over has nothing to give back.
   */
  async decrement(key: string): Promise<void> {
    if (this.#takeDenial(key, Date.now())) return
    await this.#limiter.refund(this.prefix + key)
  }

  /** Forgets a key (`reset`). */
  async resetKey(key: string): Promise<void> {
    this.#denied.delete(key)
    await this.#limiter.reset(this.prefix + key)
  }
}
