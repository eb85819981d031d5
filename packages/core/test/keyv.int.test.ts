import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import keyvTestSuite from '@keyv/test-suite'
import Keyv from 'keyv'
import * as vitest from 'vitest'
import { KeyvCacheStore } from '../src/keyv.js'
import { MemoryCache } from '../src/memory-cache.js'
import { RedisCache } from '../src/redis-cache.js'

const { describe, expect, it, afterAll, beforeAll, inject } = vitest
// @keyv/test-suite is typed against its own vitest copy; the runtime API it uses is the same.
const suiteApi = vitest as unknown as Parameters<typeof keyvTestSuite>[0]

describe('Keyv adapter over MemoryCache passes @keyv/test-suite', () => {
  const cache = new MemoryCache()
  keyvTestSuite(suiteApi, Keyv, () => new KeyvCacheStore(cache))
})

describe('Keyv adapter over RedisCache passes @keyv/test-suite', () => {
  const { standalone } = inject('redis')
  let conn: Connection
  let cache: RedisCache
  beforeAll(async () => {
    conn = await connect({ url: standalone.url, namespace: uniquePrefix('keyv') })
    cache = new RedisCache(conn, { namespace: 'store' })
  })
  afterAll(async () => {
    await cache.clear()
    await conn.close()
  })
  keyvTestSuite(suiteApi, Keyv, () => new KeyvCacheStore(cache))

  it('clamps TTLs into 1s–30d; Keyv still expires short entries on time', async () => {
    const store = new KeyvCacheStore(cache)
    const keyv = new Keyv({ store })
    await keyv.set('short', 'v', 10)
    await new Promise((r) => setTimeout(r, 30))
    expect(await keyv.get('short')).toBeUndefined()
    await store.set('long', 'v', 365 * 86_400_000)
    expect(await cache.ttl('long')).toBeLessThanOrEqual(30 * 86_400_000)
    expect(await store.getMany(['long', 'none'])).toEqual(['v', undefined])
    expect(await store.deleteMany(['long', 'none'])).toBe(true)
    expect(await store.deleteMany(['none'])).toBe(false)
  })

  it('clear() without a Keyv namespace clears the whole cache; disconnect closes it', async () => {
    const own = new RedisCache(conn, { namespace: uniquePrefix('own') })
    const store = new KeyvCacheStore(own)
    await store.set('a', 1)
    await store.clear()
    expect(await store.has('a')).toBe(false)
    await store.disconnect()
    await expect(own.get('a')).rejects.toMatchObject({ code: 'E_CLOSED' })
  })
})
