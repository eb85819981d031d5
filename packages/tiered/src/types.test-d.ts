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
  type TieredGetEvent,
  type TieredGetManyOptions,
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

  it('getManyOrSet: the loader gets keys and { signal, stale }, entry() sees the value type', () => {
    type User = { name: string }
    type Load = Parameters<TieredCache<User>['getManyOrSet']>[1]
    expectTypeOf<Parameters<Load>[0]>().toEqualTypeOf<string[]>()
    expectTypeOf<Parameters<Load>[1]['stale']>().toEqualTypeOf<ReadonlyMap<string, User>>()
    expectTypeOf<Parameters<Load>[1]['signal']>().toEqualTypeOf<AbortSignal>()
    expectTypeOf<Parameters<NonNullable<TieredGetManyOptions<User>['entry']>>[1]>().toEqualTypeOf<User>()
    expectTypeOf<TieredGetEvent['tier']>().toEqualTypeOf<'l1' | 'l2' | 'l3'>()
  })

  it('ShardedCache and ReplicatedCache are Caches', () => {
    expectTypeOf<ShardedCache<number>>().toMatchTypeOf<Cache<number>>()
    expectTypeOf<ReplicatedCache<number>>().toMatchTypeOf<Cache<number>>()
  })
})
