import type { CacheErrorCode, Connection } from '@cache/client'
import type { Cache } from '@cache/core'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type ReplicatedCache,
  type ShardedCache,
  TieredCache,
  type TieredCacheOptions,
  type TieredErrorCode,
  type TieredFactoryContext,
  type TierStats,
} from './index.js'

describe('public types', () => {
  it('new TieredCache<T>(conn, options) gives a TieredCache<T> that is a Cache<T>', () => {
    type User = { name: string }
    const make = () => new TieredCache<User>({} as Connection, { namespace: 'users' })
    expectTypeOf(make).returns.toEqualTypeOf<TieredCache<User>>()
    expectTypeOf<TieredCache<User>>().toMatchTypeOf<Cache<User>>()
    expectTypeOf<TieredCache<User>['get']>().returns.toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf<TieredCache<User>['getOrSet']>().returns.toEqualTypeOf<Promise<User>>()
    expectTypeOf<TieredCache<User>['getManyOrSet']>().returns.toEqualTypeOf<Promise<Map<string, User>>>()
    expectTypeOf<TieredCache<User>['tierStats']>().returns.toEqualTypeOf<TierStats>()
  })

  it('the factory context carries the abort signal and the stale value', () => {
    expectTypeOf<TieredFactoryContext['signal']>().toEqualTypeOf<AbortSignal>()
    expectTypeOf<TieredFactoryContext['key']>().toEqualTypeOf<string>()
  })

  it('convention: namespace, close() and asyncDispose, the error-code union', () => {
    expectTypeOf<TieredCacheOptions['namespace']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<TieredCache['namespace']>().toEqualTypeOf<string>()
    expectTypeOf<TieredCache['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<TieredCache[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<'E_FACTORY_TIMEOUT'>().toMatchTypeOf<TieredErrorCode>()
    expectTypeOf<TieredErrorCode>().toMatchTypeOf<CacheErrorCode>()
    // @ts-expect-error a typo is not a code of the family
    expectTypeOf<'E_FACTORY_TIMOUT'>().toMatchTypeOf<CacheErrorCode>()
  })

  it('ShardedCache and ReplicatedCache are Caches', () => {
    expectTypeOf<ShardedCache<number>>().toMatchTypeOf<Cache<number>>()
    expectTypeOf<ReplicatedCache<number>>().toMatchTypeOf<Cache<number>>()
  })
})
