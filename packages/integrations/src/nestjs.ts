/**
 * NestJS: a `ThrottlerStorage` for @nestjs/throttler backed by @cache/ratelimit. Import from
 * `@cache/integrations/nestjs` (@nestjs/throttler is an optional peer; nothing of Nest is loaded here).
 * @example ThrottlerModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 100 }], storage: new RateLimitThrottlerStorage(conn) })
 */
import { type Connection, InvalidOptionError } from '@cache/client'
import { type Algorithm, RateLimiter } from '@cache/ratelimit'
import { PKG } from './defaults.js'

/** What @nestjs/throttler's guard expects back from `increment` (its ThrottlerStorageRecord). */
export interface ThrottlerRecord {
  totalHits: number
  /** Seconds until the window resets. */
  timeToExpire: number
  isBlocked: boolean
  /** Seconds until the block ends (the guard's Retry-After). */
  timeToBlockExpire: number
}

/** Options of `new RateLimitThrottlerStorage(conn, options)`. */
export interface ThrottlerStorageOptions {
  /** The algorithm of every throttler's limiter. @default 'sliding-window' */
  algorithm?: Exclude<Algorithm, 'token-bucket' | 'gcra'>
  /** Key namespace under the connection's. @default 'throttler' */
  namespace?: string
}

const ALGORITHMS = ['fixed-window', 'sliding-window', 'sliding-log']

/**
 * @nestjs/throttler storage on Redis through @cache/ratelimit: each throttler (name, limit, ttl) gets an
 * exact, atomic limiter shared by every instance; `blockDuration` becomes the limiter's penalty. Structurally
 * a `ThrottlerStorage` (pass it as `storage` to `ThrottlerModule.forRoot`).
 */
export class RateLimitThrottlerStorage {
  readonly #conn: Connection
  readonly #algorithm: NonNullable<ThrottlerStorageOptions['algorithm']>
  readonly #namespace: string
  readonly #limiters = new Map<string, RateLimiter>()

  constructor(conn: Connection, options: ThrottlerStorageOptions = {}) {
    const algorithm = options.algorithm ?? 'sliding-window'
    if (!ALGORITHMS.includes(algorithm))
      throw new InvalidOptionError(PKG, 'algorithm', `must be one of ${ALGORITHMS.join(', ')}`)
    this.#conn = conn
    this.#algorithm = algorithm
    this.#namespace = options.namespace ?? 'throttler'
  }

  #limiter(name: string, limit: number, ttl: number, blockDuration: number): RateLimiter {
    const id = `${name}|${limit}|${ttl}|${blockDuration}`
    let limiter = this.#limiters.get(id)
    if (!limiter) {
      limiter = new RateLimiter(this.#conn, {
        algorithm: this.#algorithm,
        limit,
        window: ttl,
        name: `${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}-${limit}-${ttl}`,
        namespace: this.#namespace,
        ...(blockDuration > 0 && blockDuration !== ttl ? { penalty: blockDuration } : {}),
      })
      this.#limiters.set(id, limiter)
    }
    return limiter
  }

  /** Counts a request (what the ThrottlerGuard calls). `ttl` and `blockDuration` are in ms. */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerRecord> {
    const r = await this.#limiter(throttlerName, limit, ttl, blockDuration).consume(key)
    const secs = (ms: number) => Math.max(0, Math.ceil(ms / 1000))
    return {
      totalHits: r.allowed ? r.limit - r.remaining : r.limit + 1,
      timeToExpire: secs(r.resetAfterMs),
      isBlocked: !r.allowed,
      timeToBlockExpire: r.allowed ? 0 : Math.max(1, secs(r.retryAfterMs)),
    }
  }

  /** Closes the limiters (the connection stays open: it is yours). Nest calls it on shutdown. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.#limiters.values()].map((l) => l.close()))
    this.#limiters.clear()
  }
}
