import { type Connection, isCacheError } from '@cache/client'
import { describe, expectTypeOf, it } from 'vitest'
import type {
  CombinedLimiter,
  ConcurrencyLimiter,
  ConcurrencyLimiterOptions,
  RateLimitErrorCode,
  RateLimiter,
  RateLimiterOptions,
  RuleStore,
  RuleStoreOptions,
} from './index.js'

describe('family conventions', () => {
  it('construction is new Thing(conn, options)', () => {
    expectTypeOf<ConstructorParameters<typeof RateLimiter>>().toEqualTypeOf<
      [conn: Connection, options: RateLimiterOptions]
    >()
    expectTypeOf<ConstructorParameters<typeof ConcurrencyLimiter>>().toEqualTypeOf<
      [conn: Connection, options: ConcurrencyLimiterOptions]
    >()
    expectTypeOf<ConstructorParameters<typeof RuleStore>>().toEqualTypeOf<
      [conn: Connection, options?: RuleStoreOptions]
    >()
    expectTypeOf<ConstructorParameters<typeof CombinedLimiter>>().toEqualTypeOf<
      [limiters: ReadonlyArray<RateLimiter>]
    >()
  })

  it('the scope option is namespace', () => {
    expectTypeOf<RateLimiterOptions['namespace']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<ConcurrencyLimiterOptions['namespace']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<RuleStoreOptions['namespace']>().toEqualTypeOf<string | undefined>()
  })

  it('every long-lived object has close() and asyncDispose', () => {
    expectTypeOf<RateLimiter['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<RateLimiter[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<CombinedLimiter[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<ConcurrencyLimiter['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<ConcurrencyLimiter[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<RuleStore['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<RuleStore[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
  })

  it('error codes are a literal union: a typo does not compile', () => {
    expectTypeOf<RateLimitErrorCode>().toEqualTypeOf<
      'E_RATE_LIMITED' | 'E_COST_EXCEEDS_LIMIT' | 'E_RATE_LIMIT_UNAVAILABLE'
    >()
    const check = (err: unknown) => {
      isCacheError(err, 'E_RATE_LIMITED')
      isCacheError(err, 'E_INVALID_ARGUMENT')
      // @ts-expect-error a typo'd code does not compile
      isCacheError(err, 'E_RATE_LIMTED')
    }
    expectTypeOf(check).toBeFunction()
  })
})
