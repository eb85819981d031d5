import type { Cache } from '@cache/core'
import { describe, expectTypeOf, it } from 'vitest'
import {
  createTieredCache,
  type ReplicatedCache,
  type ShardedCache,
  type TieredCache,
  type TieredFactoryContext,
  type TierStats,
} from './index.js'

describe('public types', () => {
  it('createTieredCache<T> gives a TieredCache<T> that is a Cache<T>', () => {
    type User = { name: string }
    const make = () => createTieredCache<User>({ connection: {} as never })
    expectTypeOf(make).returns.toEqualTypeOf<TieredCache<User>>()
    expectTypeOf<TieredCache<User>>().toMatchTypeOf<Cache<User>>()
    expectTypeOf<TieredCache<User>['get']>().returns.toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf<TieredCache<User>['getOrSet']>().returns.toEqualTypeOf<Promise<User>>()
    expectTypeOf<TieredCache<User>['getManyOrSet']>().returns.toEqualTypeOf<
      Promise<Array<User | undefined>>
    >()
    expectTypeOf<TieredCache<User>['tierStats']>().returns.toEqualTypeOf<TierStats>()
  })

  it('the factory context carries the abort signal and the stale value', () => {
    expectTypeOf<TieredFactoryContext['signal']>().toEqualTypeOf<AbortSignal>()
    expectTypeOf<TieredFactoryContext['key']>().toEqualTypeOf<string>()
  })

  it('ShardedCache and ReplicatedCache are Caches', () => {
    expectTypeOf<ShardedCache<number>>().toMatchTypeOf<Cache<number>>()
    expectTypeOf<ReplicatedCache<number>>().toMatchTypeOf<Cache<number>>()
  })
})
