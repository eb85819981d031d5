/**
 * A Store for express-rate-limit backed by @cache/ratelimit: existing express-rate-limit users switch by
 * one line and get exact, atomic limits on Redis (any algorithm, Cluster, outage policy, block cache).
 * Import from `@cache/integrations/express-rate-limit`.
 * @example app.use(rateLimit({ windowMs: 60_000, limit: 100, store: new RateLimitStore(limiter) }))
 */
import { InvalidArgumentError, InvalidOptionError, UnsupportedError } from '@cache/client'
import type { Limiter, RateLimitResult } from '@cache/ratelimit'
import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit'
import { PKG } from './defaults.js'

/** Options of `new RateLimitStore(limiter, options)`. */
export interface RateLimitStoreOptions {
  /** Prefix of every key the store hands the limiter. @default 'erl:' */
  prefix?: string
}

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
    for (const field of ['skipSuccessfulRequests', 'skipFailedRequests'] as const)
      if (options[field])
        throw new InvalidOptionError(
          PKG,
          field,
          'is not supported: a request counted by @cache/ratelimit cannot be refunded (use `skip` to not count it at all)',
        )
  }

  /** Counts a hit (one `consume`). */
  async increment(key: string): Promise<IncrementResponse> {
    return info(await this.#limiter.consume(this.prefix + key), Date.now()) as IncrementResponse
  }

  /** The hits of a key, without counting one (`peek`). */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const r = await this.#limiter.peek(this.prefix + key)
    const used = r.limit - r.remaining
    return { totalHits: r.allowed ? used : r.limit + 1, resetTime: new Date(Date.now() + r.resetAfterMs) }
  }

  /**
   * Refunds are not supported by the limiter algorithms: express-rate-limit only calls this with
   * `skipSuccessfulRequests` / `skipFailedRequests`, which `init` refuses.
   * @throws E_UNSUPPORTED
   */
  async decrement(_key: string): Promise<void> {
    throw new UnsupportedError(`[${PKG}] RateLimitStore cannot refund a request (see init)`)
  }

  /** Forgets a key (`reset`). */
  async resetKey(key: string): Promise<void> {
    await this.#limiter.reset(this.prefix + key)
  }
}
