import { type Connection, connect, isCacheError } from '@cache/client'
import { type Cache, MemoryCache, RedisCache } from '@cache/core'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ReplicatedCache, ShardedCache, TieredCache } from '../src/index.js'

const { standalone, cluster } = inject('redis')
let single: Connection
let sharded: Connection

beforeAll(async () => {
  ;[single, sharded] = await Promise.all([
    connect({ url: standalone.url, namespace: uniquePrefix('tiered-sh') }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('tiered-sh') }),
  ])
})
afterAll(async () => {
  await Promise.all([single?.close(), sharded?.close()])
})

/** Independent "deployments": the standalone server, the Cluster, and separate namespaces on them. */
function deployments() {
  return {
    a: new RedisCache<unknown>(single, { namespace: uniquePrefix('a') }),
    b: new RedisCache<unknown>(sharded, { namespace: uniquePrefix('b') }),
    c: new TieredCache<unknown>(single, { namespace: uniquePrefix('c'), coherence: 'none' }),
    d: new RedisCache<unknown>(sharded, { namespace: uniquePrefix('d') }),
  }
}

/** A ShardedCache over three deployments named a, b and c. */
function overThree(a: Cache<unknown>, b: Cache<unknown>, c: Cache<unknown>) {
  return new ShardedCache({
    shards: [
      { name: 'a', cache: a },
      { name: 'b', cache: b },
      { name: 'c', cache: c },
    ],
  })
}

async function wipe(caches: Array<Cache<unknown>>) {
  for (const c of caches) await c.clear().catch(() => {})
}

describe('ShardedCache', () => {
  it('routes each key to one shard; multi-key and broadcast operations span all shards', async () => {
    const { a, b, c } = deployments()
    const cache = overThree(a, b, c)
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`)
      await cache.mset(keys.map((k, i) => ({ key: k, value: i, tags: [i % 2 ? 'odd' : 'even'] })))
      const where = new Map<string, number>()
      for (const k of keys) {
        const shard = cache.shardFor(k)
        where.set(shard, (where.get(shard) ?? 0) + 1)
        // The value lives on its shard only.
        const owner = { a, b, c }[shard as 'a' | 'b' | 'c']
        expect(await owner.get(k)).toBe(keys.indexOf(k))
        for (const other of [a, b, c].filter((x) => x !== owner)) expect(await other.has(k)).toBe(false)
      }
      expect(where.size).toBe(3)
      expect(await cache.mget([...keys].reverse())).toEqual(keys.map((_, i) => i).reverse())
      expect(await cache.get('user:3')).toBe(3)
      expect(await cache.getOrSet('computed', () => 'once')).toBe('once')
      expect(await cache.invalidateTags(['odd'])).toBe(30)
      expect(await cache.deletePattern('user:1*')).toBe(5) // user:10, 12, 14, 16, 18 (the odd ones are gone)
      expect(await cache.has('user:2')).toBe(true)
      await cache.clear()
      expect(await cache.mget(['user:2', 'computed'])).toEqual([undefined, undefined])
      expect(cache.stats().sets).toBeGreaterThanOrEqual(61)
    } finally {
      await cache.close()
    }
    expect(isCacheError(await cache.get('k').catch((e: unknown) => e), 'E_CLOSED')).toBe(true)
  })

  it("every single-key operation reaches the key's shard", async () => {
    const { a, b, c } = deployments()
    const cache = new ShardedCache({
      shards: [
        { name: 'a', cache: a },
        { name: 'b', cache: b },
        { name: 'c', cache: c },
      ],
      namespace: 'regions',
    })
    try {
      expect(cache.namespace).toBe('regions')
      expect(cache.shards).toEqual(['a', 'b', 'c'])
      for (const k of ['x', 'y', 'z', 'w']) {
        expect(await cache.setIfAbsent(k, 1, { ttl: '1h', keepVersions: 3 })).toBe(true)
        expect(await cache.setIfAbsent(k, 2)).toBe(false)
        expect(await cache.ttl(k)).toBeGreaterThan(3_000_000)
        expect(await cache.expire(k, '2h')).toBe(true)
        expect((await cache.getWithTtl(k))?.ttl).toBeGreaterThan(3_700_000)
        await cache.set(k, 2, { keepVersions: 3 })
        expect((await cache.versions(k)).map((v) => v.value)).toEqual([2, 1])
        await cache.rollback(k, 1)
        expect(await cache.get(k)).toBe(1)
        expect(await cache.invalidate(k)).toBe(1)
        expect(await cache.delete(k)).toBe(false)
      }
      expect(cache.stats().namespace).toBe('regions')
      expect(isCacheError(await cache.mget(['ok', '']).catch((e: unknown) => e), 'E_INVALID_OPTION')).toBe(
        true,
      )
      expect(isCacheError(await cache.mset('no' as never).catch((e: unknown) => e), 'E_INVALID_OPTION')).toBe(
        true,
      )
    } finally {
      await wipe([a, b, c])
      await cache.close()
      await cache.close()
    }
  })

  it('adding a 4th deployment moves about 1/4 of the keys, all to the new shard; removing it moves them back', async () => {
    const { a, b, c, d } = deployments()
    const cache = overThree(a, b, c)
    try {
      const keys = Array.from({ length: 400 }, (_, i) => `item:${i}`)
      await cache.mset(keys.map((k) => ({ key: k, value: k })))
      const before = new Map(keys.map((k) => [k, cache.shardFor(k)]))
      cache.addShard({ name: 'd', cache: d })
      const moved = keys.filter((k) => cache.shardFor(k) !== before.get(k))
      for (const k of moved) expect(cache.shardFor(k)).toBe('d')
      expect(moved.length / keys.length).toBeGreaterThan(0.25 * 0.6)
      expect(moved.length / keys.length).toBeLessThan(0.25 * 1.4)
      // Moved keys are misses on the new shard; the rest still hit.
      const values = await cache.mget(keys)
      expect(values.filter((v) => v === undefined)).toHaveLength(moved.length)
      expect(cache.removeShard('d')).toBe(d)
      expect(await cache.mget(keys)).toEqual(keys)
      expect(cache.removeShard('nope')).toBeUndefined()
    } finally {
      await wipe([a, b, c, d])
      await cache.close()
      await d.close()
    }
  })

  it('rejects bad shard lists with E_INVALID_OPTION naming the field', () => {
    const m = new MemoryCache()
    const cases: Array<[unknown, string]> = [
      [{ shards: [] }, 'shards'],
      [{ shards: [{ name: '', cache: m }] }, 'shards.0.name'],
      [{ shards: [{ name: 'x', cache: 1 }] }, 'shards.0.cache'],
      [
        {
          shards: [
            { name: 'x', cache: m },
            { name: 'x', cache: m },
          ],
        },
        'shards.1.name',
      ],
      [{ shards: [{ name: 'x', cache: m }], virtualNodes: 0 }, 'virtualNodes'],
    ]
    for (const [options, field] of cases) {
      let caught: unknown
      try {
        new ShardedCache(options as never)
      } catch (err) {
        caught = err
      }
      expect((caught as { details: { field: string } }).details.field).toBe(field)
    }
    // A shard that cannot name what it invalidated cannot take part in cross-shard dependency chains.
    let unsupported: unknown
    try {
      new ShardedCache({ shards: [{ name: 'x', cache: m }] })
    } catch (err) {
      unsupported = err
    }
    expect(isCacheError(unsupported, 'E_UNSUPPORTED')).toBe(true)
    expect((unsupported as { details: { field: string } }).details.field).toBe('shards.0.cache')
    const one = new ShardedCache({ shards: [{ name: 'x', cache: m }], crossShardDependencies: false })
    expect(() => one.removeShard('x')).toThrow(/last shard/)
    expect(() => one.addShard({ name: 'x', cache: m })).toThrow(/already/)
    const strict = new ShardedCache<unknown>({ shards: [{ name: 'r', cache: new RedisCache(single) }] })
    expect(() => strict.addShard({ name: 'm', cache: m })).toThrow(/crossShardDependencies/)
  })

  it('dependency chains and tags are followed across shards (each link on another shard), cycles end', async () => {
    const { a, b, c } = deployments()
    const cache = overThree(a, b, c)
    try {
      // Keys whose shards alternate a → b → c → a, so that every dependency crosses a shard boundary.
      const pick = (shard: string, from: number) => {
        for (let i = from; ; i++) if (cache.shardFor(`k${i}`) === shard) return `k${i}`
      }
      const chain = [pick('a', 0), pick('b', 0), pick('c', 0), pick('a', 1000)]
      await cache.set(chain[0] as string, 0, { tags: ['root'] })
      for (let i = 1; i < chain.length; i++)
        await cache.set(chain[i] as string, i, { dependsOn: [chain[i - 1] as string] })
      const spared = pick('b', 1000)
      await cache.set(spared, 'kept', { dependsOn: ['elsewhere'] })
      expect(await cache.invalidate(chain[1] as string)).toBe(3)
      expect(await cache.mget(chain)).toEqual([0, undefined, undefined, undefined])
      for (let i = 1; i < chain.length; i++)
        await cache.set(chain[i] as string, i, { dependsOn: [chain[i - 1] as string] })
      expect(await cache.invalidateTags(['root'])).toBe(4)
      expect(await cache.mget([...chain, spared])).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        'kept',
      ])
      // A cycle spanning two shards.
      const x = pick('a', 2000)
      const y = pick('c', 2000)
      await cache.set(x, 1, { dependsOn: [y] })
      await cache.set(y, 2, { dependsOn: [x] })
      expect(await cache.invalidate(x)).toBe(2)
    } finally {
      await wipe([a, b, c])
      await cache.close()
    }
  })
})

describe('ReplicatedCache', () => {
  it('writes and invalidations reach every region asynchronously, in order; reads stay local', async () => {
    const local = new TieredCache<unknown>(single, {
      namespace: uniquePrefix('eu'),
      coherence: 'none',
    })
    const us = new RedisCache<unknown>(sharded, { namespace: uniquePrefix('us') })
    const ap = new RedisCache<unknown>(single, { namespace: uniquePrefix('ap') })
    const cache = new ReplicatedCache({
      local,
      regions: [
        { name: 'us', cache: us },
        { name: 'ap', cache: ap },
      ],
    })
    try {
      await cache.set('k', 'v1', { tags: ['t'] })
      expect(await cache.get('k')).toBe('v1') // read-your-writes locally, at once
      for (let i = 0; i < 50; i++) await cache.set('seq', i)
      await cache.getOrSet('g', () => 'computed')
      await cache.flush()
      for (const region of [us, ap]) {
        expect(await region.get('k')).toBe('v1')
        expect(await region.get('seq')).toBe(49) // applied in order: the last write wins everywhere
        expect(await region.get('g')).toBe('computed')
      }
      await cache.invalidateTags(['t'])
      await cache.delete('seq')
      await cache.flush()
      for (const region of [us, ap]) expect(await region.mget(['k', 'seq'])).toEqual([undefined, undefined])
      expect(cache.regionStats().us).toMatchObject({ failed: 0, queued: 0 })
      expect(cache.regionStats().us?.applied).toBeGreaterThanOrEqual(54)
    } finally {
      await Promise.all([local.clear(), us.clear(), ap.clear()])
      await cache.close()
    }
  })

  it('a failing region is reported and does not stop the others or the local write', async () => {
    const local = new MemoryCache<unknown>()
    const broken = new MemoryCache<unknown>()
    await broken.close()
    const healthy = new MemoryCache<unknown>()
    // A slow region, so that its queue (max 2) overflows.
    const slow = new MemoryCache<unknown>()
    const slowSet = slow.set.bind(slow)
    slow.set = async (key, value, options) => {
      await new Promise((r) => setTimeout(r, 10))
      return slowSet(key, value, options)
    }
    const cache = new ReplicatedCache({
      local,
      regions: [
        { name: 'broken', cache: broken },
        { name: 'healthy', cache: healthy },
        { name: 'slow', cache: slow },
      ],
      maxQueue: 2,
    })
    const errors: string[] = []
    cache.on('replication-error', (e: { region: string }) => errors.push(e.region))
    let dropped = 0
    cache.on('dropped', () => dropped++)
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i)
    await cache.flush()
    expect(await cache.get('k4')).toBe(4)
    expect(await healthy.get('k4')).toBe(4)
    expect(errors.length).toBeGreaterThan(0)
    expect(new Set(errors)).toEqual(new Set(['broken']))
    expect(dropped).toBeGreaterThan(0)
    expect(cache.regionStats().slow?.dropped).toBe(dropped)
    expect(await slow.get('k4')).toBe(4) // the newest writes survive an overflow
    expect(cache.regionStats().broken?.failed).toBe(errors.length)
    expect(() => new ReplicatedCache({ local, regions: [{ name: '', cache: healthy }] })).toThrow(
      /regions\.0\.name/,
    )
  })
})
