import { describe, expectTypeOf, it } from 'vitest'
import type { Cache, CacheVersion, ValueWithTtl } from './cache.js'
import type { MemoryCache } from './memory-cache.js'
import type { RedisCache } from './redis-cache.js'

describe('public generics', () => {
  it('caches carry their value type through every read', () => {
    type User = { id: number }
    expectTypeOf<MemoryCache<User>>().toMatchTypeOf<Cache<User>>()
    expectTypeOf<RedisCache<User>>().toMatchTypeOf<Cache<User>>()
    expectTypeOf<Cache<User>['get']>().returns.resolves.toEqualTypeOf<User | undefined>()
    expectTypeOf<Cache<User>['mget']>().returns.resolves.toEqualTypeOf<Array<User | undefined>>()
    expectTypeOf<Cache<User>['getOrSet']>().returns.resolves.toEqualTypeOf<User>()
    expectTypeOf<Cache<User>['getWithTtl']>().returns.resolves.toEqualTypeOf<ValueWithTtl<User> | undefined>()
    expectTypeOf<Cache<User>['versions']>().returns.resolves.toEqualTypeOf<Array<CacheVersion<User>>>()
    expectTypeOf<Cache<User>['set']>().parameter(1).toEqualTypeOf<User>()
  })
})
