import { CacheError } from '@cache/client'

/** Codes @cache/ratelimit adds to the family (it also throws E_INVALID_ARGUMENT, E_INVALID_OPTION and the connection's codes). */
export type RateLimitErrorCode = 'E_RATE_LIMITED' | 'E_COST_EXCEEDS_LIMIT' | 'E_RATE_LIMIT_UNAVAILABLE'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<RateLimitErrorCode, true> {}
}

/** A request was refused by a limiter (thrown by `consumeOrThrow` and the middleware helpers). */
export class RateLimitedError extends CacheError {
  /** The limited key. */
  readonly key: string
  /** Milliseconds until a retry can succeed. */
  readonly retryAfterMs: number
  constructor(key: string, retryAfterMs: number) {
    super('E_RATE_LIMITED', `[@cache/ratelimit] rate limit exceeded; retry after ${retryAfterMs}ms`, {
      details: { key, retryAfterMs },
    })
    this.key = key
    this.retryAfterMs = retryAfterMs
  }
}

/** A cost larger than a rule's capacity (limit, or burst) can never be allowed. */
export class CostExceedsLimitError extends CacheError {
  /** The requested cost. */
  readonly cost: number
  /** The capacity of the rule that can never allow it. */
  readonly capacity: number
  constructor(cost: number, capacity: number, rule: string) {
    super(
      'E_COST_EXCEEDS_LIMIT',
      `[@cache/ratelimit] cost ${cost} exceeds the capacity ${capacity} of rule "${rule}" and can never be allowed`,
      { details: { field: 'cost', cost, capacity, rule } },
    )
    this.cost = cost
    this.capacity = capacity
  }
}

/** Redis was unreachable and the outage policy is 'fail-closed' (thrown only by `consumeOrThrow`). */
export class RateLimitUnavailableError extends CacheError {
  constructor(cause: unknown) {
    super(
      'E_RATE_LIMIT_UNAVAILABLE',
      '[@cache/ratelimit] Redis unavailable and the outage policy is fail-closed',
      {
        cause,
      },
    )
  }
}
