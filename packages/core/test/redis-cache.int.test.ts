import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, inject } from 'vitest'
import { RedisCache } from '../src/redis-cache.js'
import { runCacheContract } from './cache-contract.js'

const { standalone, sentinel, cluster } = inject('redis')
let single: Connection
let sharded: Connection
let watched: Connection

beforeAll(async () => {
  ;[single, sharded, watched] = await Promise.all([
    connect({ url: standalone.url, namespace: uniquePrefix('core') }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('core') }),
    connect({
      sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
      namespace: uniquePrefix('core'),
    }),
  ])
})
afterAll(async () => {
  await Promise.all([single?.close(), sharded?.close(), watched?.close()])
})

function factory(conn: () => Connection, options: { coalesce?: boolean } = {}) {
  return async () => {
    const cache = new RedisCache(conn(), { namespace: uniquePrefix('c'), ...options })
    return {
      cache,
      cleanup: async () => {
        await new RedisCache(conn(), { namespace: cache.namespace }).clear()
        await cache.close()
      },
    }
  }
}

runCacheContract(
  'RedisCache standalone',
  factory(() => single),
)
runCacheContract(
  'RedisCache standalone, no coalescing',
  factory(() => single, { coalesce: false }),
)
runCacheContract(
  'RedisCache cluster',
  factory(() => sharded),
)
