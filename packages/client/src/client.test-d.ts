import { describe, expectTypeOf, it } from 'vitest'
import type { ConnectOptions } from './config.js'
import type { connect } from './connect.js'
import type { Connection } from './connection.js'
import type { CacheErrorCode, ClientErrorCode, isCacheError } from './errors.js'
import type { Lease, LeaseOptions } from './lease.js'
import type { AnyRedis, RedisStandalone } from './types.js'

describe('@cache/client public types (family conventions)', () => {
  it('construction: connect(url | options) gives a Connection; namespace is an option', () => {
    expectTypeOf<typeof connect>().returns.resolves.toEqualTypeOf<Connection>()
    expectTypeOf<ConnectOptions['namespace']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<typeof Lease>().constructorParameters.toEqualTypeOf<
      [conn: Connection, key: string, options: LeaseOptions]
    >()
  })

  it('safe by default: redis is the guarded command API, unguarded is the raw client', () => {
    expectTypeOf<Connection['redis']>().toEqualTypeOf<RedisStandalone>()
    expectTypeOf<Connection['unguarded']>().toEqualTypeOf<AnyRedis>()
  })

  it('lifetime: close() and [Symbol.asyncDispose]', () => {
    expectTypeOf<Connection['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<Connection[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
  })

  it('errors: a literal union of codes; a typo does not compile', () => {
    expectTypeOf<'E_TIMEOUT'>().toMatchTypeOf<ClientErrorCode>()
    expectTypeOf<ClientErrorCode>().toMatchTypeOf<CacheErrorCode>()
    expectTypeOf<string>().not.toMatchTypeOf<CacheErrorCode>()
    expectTypeOf<typeof isCacheError>().parameter(1).toEqualTypeOf<CacheErrorCode | undefined>()
    // @ts-expect-error not a code of the family
    expectTypeOf<'E_TIMOUT'>().toMatchTypeOf<CacheErrorCode>()
  })
})
