import type { CacheErrorCode, Connection } from '@cache/client'
import { describe, expectTypeOf, it } from 'vitest'
import type { CoreErrorCode } from './errors.js'
import type { CacheKeys } from './keys.js'
import type { MemoryCache } from './memory-cache.js'
import type { RedisCache } from './redis-cache.js'
import type { RedisCacheOptions } from './redis-cache-options.js'

describe('@cache/core public types (family conventions)', () => {
  it('construction: new RedisCache(conn, options); namespace is an option', () => {
    expectTypeOf<typeof RedisCache>().constructorParameters.toEqualTypeOf<
      [conn: Connection, options?: RedisCacheOptions]
    >()
    expectTypeOf<RedisCacheOptions['namespace']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<RedisCache['namespace']>().toEqualTypeOf<string>()
    expectTypeOf<RedisCache['keys']>().toEqualTypeOf<CacheKeys>()
  })

  it('lifetime: close() and [Symbol.asyncDispose]', () => {
    expectTypeOf<RedisCache[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<MemoryCache[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<RedisCache['close']>().returns.toEqualTypeOf<Promise<void>>()
  })

  it('errors: core registers its literal union in the family registry', () => {
    expectTypeOf<'E_DECODE'>().toMatchTypeOf<CoreErrorCode>()
    expectTypeOf<CoreErrorCode>().toMatchTypeOf<CacheErrorCode>()
    // @ts-expect-error a typo is not a code of the family
    expectTypeOf<'E_DECODEE'>().toMatchTypeOf<CacheErrorCode>()
  })
})
