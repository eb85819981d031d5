import { type Connection, connect } from '@cache/client'
import { type Cache, RedisCache } from '@cache/core'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, inject } from 'vitest'
import { type CoherenceMode, ReplicatedCache, ShardedCache, TieredCache } from '../src/index.js'

// The shared contract suite lives in @cache/core's tests (outside this package's rootDir): load it by path.
type RunContract = (
  label: string,
  make: () => Promise<{ cache: Cache<unknown>; cleanup(): Promise<void> }>,
) => void
const contractPath = new URL('../../core/test/cache-contract.ts', import.meta.url).href
const { runCacheContract } = (await import(contractPath)) as { runCacheContract: RunContract }

const { standalone, cluster } = inject('redis')
let single: Connection
let sharded: Connection

beforeAll(async () => {
  ;[single, sharded] = await Promise.all([
    connect({ url: standalone.url, namespace: uniquePrefix('tiered') }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('tiered') }),
  ])
})
afterAll(async () => {
  await Promise.all([single?.close(), sharded?.close()])
})

function factory(conn: () => Connection, coherence: CoherenceMode) {
  return async () => {
    const cache = new TieredCache(conn(), { namespace: uniquePrefix('c'), coherence })
    await cache.ready
    return {
      cache,
      cleanup: async () => {
        const wipe = new TieredCache(conn(), { namespace: cache.namespace, coherence: 'none' })
        await wipe.clear()
        await wipe.close()
        await cache.close()
      },
    }
  }
}

runCacheContract(
  'TieredCache standalone, tracking',
  factory(() => single, 'tracking'),
)
runCacheContract(
  'TieredCache standalone, bus',
  factory(() => single, 'bus'),
)
runCacheContract(
  'TieredCache cluster, tracking',
  factory(() => sharded, 'tracking'),
)

// The local region is a TieredCache without coherence: this run also covers coherence 'none'.
runCacheContract(
  'ReplicatedCache (local TieredCache on standalone, no coherence; a region on Cluster)',
  async () => {
    const local = new TieredCache(single, { namespace: uniquePrefix('r'), coherence: 'none' })
    const region = new RedisCache(sharded, { namespace: uniquePrefix('region') })
    await local.ready
    const cache = new ReplicatedCache({ local, regions: [{ name: 'other', cache: region }] })
    return {
      cache,
      cleanup: async () => {
        await cache.flush()
        const wipe = [
          new TieredCache(single, { namespace: local.namespace, coherence: 'none' }),
          new RedisCache(sharded, { namespace: region.namespace }),
        ]
        for (const w of wipe) {
          await w.clear()
          await w.close()
        }
        await cache.close()
      },
    }
  },
)

// Three deployments of different kinds: dependency chains and tags of the contract cross shards.
runCacheContract(
  'ShardedCache (RedisCache standalone, TieredCache on Cluster, RedisCache on Cluster)',
  async () => {
    const shards = [
      new RedisCache(single, { namespace: uniquePrefix('s1') }),
      new TieredCache(sharded, { namespace: uniquePrefix('s2'), coherence: 'tracking' }),
      new RedisCache(sharded, { namespace: uniquePrefix('s3') }),
    ]
    await (shards[1] as TieredCache).ready
    const cache = new ShardedCache({ shards: shards.map((c, i) => ({ name: `s${i}`, cache: c })) })
    return {
      cache,
      cleanup: async () => {
        const wipe = [
          new RedisCache(single, { namespace: shards[0]?.namespace as string }),
          new TieredCache(sharded, { namespace: shards[1]?.namespace as string, coherence: 'none' }),
          new RedisCache(sharded, { namespace: shards[2]?.namespace as string }),
        ]
        for (const w of wipe) {
          await w.clear()
          await w.close()
        }
        await cache.close()
      },
    }
  },
)
