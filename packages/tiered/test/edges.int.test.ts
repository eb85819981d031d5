import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { codeOf, startStandalone, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ReplicatedCache, ShardedCache, TieredCache } from '../src/index.js'

const { standalone } = inject('redis')
let conn: Connection

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('tiered-edges') })
})
afterAll(async () => {
  await conn?.close()
})

describe('TieredCache with an L3: invalidations and read-through reach every tier', () => {
  it('invalidateTags, invalidate (with dependants) and deletePattern remove the entries from L3 too', async () => {
    const namespace = uniquePrefix('l3i')
    const l3 = new RedisCache<unknown>(conn, { namespace: `${namespace}-l3`, publishReads: false })
    const cache = new TieredCache<string>(conn, { namespace, coherence: 'none', l3 })
    try {
      // getOrSet misses are written through to L3.
      expect(await cache.getOrSet('tagged', () => 'T', { tags: ['t'] })).toBe('T')
      expect(await cache.getOrSet('dependant', () => 'D', { dependsOn: ['parent'] })).toBe('D')
      expect(await l3.has('tagged')).toBe(true)
      await cache.set('parent', 'P')
      await cache.set('child', 'C', { dependsOn: ['parent'] })
      await cache.set('p:1', 'x')
      await cache.set('p:2', 'y')
      await cache.set('keep', 'k')
      // Writes go through to L3.
      expect(await l3.has('p:1')).toBe(true)

      expect(await cache.invalidateTags(['t'])).toBe(1)
      expect(await l3.has('tagged')).toBe(false)
      // Not served again from L3 (it was, stale, when getOrSet wrote L3 without the entry's tags).
      expect(await cache.get('tagged')).toBeUndefined()
      expect(await cache.invalidate('parent')).toBe(3)
      expect(await l3.has('parent')).toBe(false)
      expect(await l3.has('dependant')).toBe(false)
      expect(await cache.get('dependant')).toBeUndefined()
      expect(await cache.deletePattern('p:*')).toBe(2)
      expect(await l3.has('p:1')).toBe(false)
      expect(await l3.has('p:2')).toBe(false)
      // Nothing else went: L1, L2 and L3 still hold the untouched key.
      expect(cache.cachedLocally('keep')).toBe(true)
      expect(await cache.get('keep')).toBe('k')
      expect(await l3.has('keep')).toBe(true)
      // A key with no entry and no dependants: nothing removed anywhere, no error.
      expect(await cache.invalidate('never-set')).toBe(0)
    } finally {
      await cache.clear()
      await l3.clear()
      await cache.close()
      await l3.close()
    }
  })

  it('an L3 that fails does not fail invalidations of L1 and L2', async () => {
    const namespace = uniquePrefix('l3f')
    const l3 = new RedisCache<unknown>(conn, { namespace: `${namespace}-l3` })
    const cache = new TieredCache<string>(conn, { namespace, coherence: 'none', l3 })
    await l3.close() // every L3 call now rejects with E_CLOSED
    try {
      await cache.set('a', 'A', { tags: ['t'] })
      await cache.set('b', 'B')
      await cache.set('q:1', 'Q')
      expect(await cache.invalidateTags(['t'])).toBe(1)
      expect(await cache.invalidate('b')).toBe(1)
      expect(await cache.deletePattern('q:*')).toBe(1)
      await cache.set('d', 'D')
      expect(await cache.delete('d')).toBe(true)
      // A getOrSet miss whose L3 copy fails is still served, and the failure counted and reported.
      const problems: unknown[] = []
      cache.on('problem', (err: unknown) => problems.push(err))
      const before = cache.tierStats().l3!.errors
      expect(await cache.getOrSet('computed', () => 'C')).toBe('C')
      expect(cache.tierStats().l3!.errors).toBeGreaterThan(before)
      expect(problems.some((p) => (p as { code?: string }).code === 'E_CLOSED')).toBe(true)
      expect(await cache.mget(['a', 'b', 'q:1', 'd'])).toEqual([undefined, undefined, undefined, undefined])
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})

describe('TieredCache lifetime and factory failures', () => {
  it('await using closes the cache; a factory that fails under a hard timeout rejects with its own error', async () => {
    const namespace = uniquePrefix('life')
    let escaped: TieredCache<string> | undefined
    {
      await using cache = new TieredCache<string>(conn, { namespace, coherence: 'none' })
      escaped = cache
      const boom = new Error('factory failed')
      await expect(
        cache.getOrSet('k', () => Promise.reject(boom), { timeouts: { hard: '5s' } }),
      ).rejects.toBe(boom)
      expect(await cache.getOrSet('k', () => 'ok', { timeouts: { hard: '5s' } })).toBe('ok')
      await cache.clear()
    }
    expect(await codeOf(escaped.get('k'))).toBe('E_CLOSED')
  })
})

describe('TieredCache bad batch arguments', () => {
  it('mget and mset refuse what is not an array, mset refuses undefined values', async () => {
    const cache = new TieredCache<string>(conn, { namespace: uniquePrefix('bad'), coherence: 'none' })
    try {
      expect(await codeOf(cache.mget('a' as never))).toBe('E_INVALID_OPTION')
      expect(await codeOf(cache.mset({ key: 'a', value: 'A' } as never))).toBe('E_INVALID_OPTION')
      expect(await codeOf(cache.mset([{ key: 'a', value: undefined as never }]))).toBe('E_ENCODE')
      expect(await cache.mget(['a'])).toEqual([undefined])
      expect(await codeOf(cache.warm({ key: 'a', load: () => 'A' } as never))).toBe('E_INVALID_OPTION')
    } finally {
      await cache.close()
    }
  })

  it('ShardedCache: mget/mset refuse non-arrays, and reject with E_CLOSED after close', async () => {
    const shard = (name: string) => ({
      name,
      cache: new TieredCache<unknown>(conn, { namespace: uniquePrefix(`sh-${name}`), coherence: 'none' }),
    })
    const shards = [shard('a'), shard('b')]
    const sharded = new ShardedCache({ shards })
    try {
      await sharded.mset([
        { key: 'x', value: 1 },
        { key: 'y', value: 2 },
      ])
      expect(await sharded.mget(['x', 'y', 'z'])).toEqual([1, 2, undefined])
      expect(await codeOf(sharded.mget('x' as never))).toBe('E_INVALID_OPTION')
      expect(await codeOf(sharded.mset({ key: 'x', value: 1 } as never))).toBe('E_INVALID_OPTION')
    } finally {
      await sharded.clear()
      await sharded.close()
    }
    expect(await codeOf(sharded.mget(['x']))).toBe('E_CLOSED')
    expect(await codeOf(sharded.get('x'))).toBe('E_CLOSED')
    await sharded.close()
    // Without cross-shard dependencies, invalidations are one call per shard, counts summed.
    {
      await using plain = new ShardedCache({
        shards: [shard('a'), shard('b')],
        crossShardDependencies: false,
      })
      await plain.mset([
        { key: 't1', value: 1, tags: ['tt'] },
        { key: 't2', value: 2, tags: ['tt'] },
        { key: 't3', value: 3, tags: ['tt'] },
      ])
      // Stats of caches that were never read: a hit ratio of 0, not NaN.
      expect(plain.stats().hitRatio).toBe(0)
      expect(await plain.invalidateTags(['tt'])).toBe(3)
      await plain.set('solo', 1)
      expect(await plain.invalidate('solo')).toBe(1)
    }
    expect(await codeOf(sharded.mset([{ key: 'x', value: 1 }]))).toBe('E_CLOSED')
    // close() closed the shards too.
    expect(await codeOf(shards[0]!.cache.get('x'))).toBe('E_CLOSED')
  })
})

describe('getOrSet from a cold L1 with eagerRefresh', () => {
  it('a value another instance stored, past the threshold, is served from L2 and refreshed in the background', async () => {
    let t = 8_000_000
    const namespace = uniquePrefix('eager')
    const first = new TieredCache<string>(conn, { namespace, coherence: 'none', now: () => t })
    const second = new TieredCache<string>(conn, { namespace, coherence: 'none', now: () => t })
    try {
      await first.getOrSet('k', () => 'v1', { ttl: '10s' })
      t += 9_000
      let calls = 0
      const factory = async () => {
        calls++
        return 'v2'
      }
      expect(await second.getOrSet('k', factory, { ttl: '10s', eagerRefresh: 0.5 })).toBe('v1')
      await waitFor('the background refresh', () => calls === 1)
      await waitFor('the refreshed value', async () => (await second.get('k')) === 'v2')
      // In L2 too: a third instance with a cold L1 reads it.
      const third = new TieredCache<string>(conn, { namespace, coherence: 'none', now: () => t })
      expect(await third.get('k')).toBe('v2')
      await third.close()
      expect(calls).toBe(1)
    } finally {
      await first.clear()
      await Promise.all([first.close(), second.close()])
    }
  })
})

describe('ReplicatedCache lifetime', () => {
  it('close() is idempotent and await using closes the local cache and the regions', async () => {
    const local = new TieredCache<unknown>(conn, { namespace: uniquePrefix('rl'), coherence: 'none' })
    const region = new RedisCache<unknown>(conn, { namespace: uniquePrefix('rr') })
    {
      await using replicated = new ReplicatedCache({ local, regions: [{ name: 'eu', cache: region }] })
      await replicated.set('k', 1)
      await replicated.flush()
      expect(await region.has('k')).toBe(true)
      await Promise.all([replicated.close(), replicated.close()])
    }
    expect(await codeOf(local.get('k'))).toBe('E_CLOSED')
    expect(await codeOf(region.get('k'))).toBe('E_CLOSED')
  })

  it('a region named twice is E_INVALID_OPTION; a full queue drops the oldest op (dropped), a failing region reports replication-error', async () => {
    const local = new TieredCache<unknown>(conn, { namespace: uniquePrefix('rl2'), coherence: 'none' })
    const good = new RedisCache<unknown>(conn, { namespace: uniquePrefix('rg') })
    const gone = new RedisCache<unknown>(conn, { namespace: uniquePrefix('rx') })
    await gone.close() // every replicated op now fails with E_CLOSED
    expect(
      await codeOf(
        Promise.resolve().then(
          () =>
            new ReplicatedCache({
              local,
              regions: [
                { name: 'eu', cache: good },
                { name: 'eu', cache: gone },
              ],
            }),
        ),
      ),
    ).toBe('E_INVALID_OPTION')
    const replicated = new ReplicatedCache({
      local,
      regions: [
        { name: 'eu', cache: good },
        { name: 'gone', cache: gone },
      ],
      maxQueue: 1,
    })
    const dropped: string[] = []
    const errors: string[] = []
    replicated.on('dropped', (e: { region: string }) => dropped.push(e.region))
    replicated.on('replication-error', (e: { region: string; error: unknown }) =>
      errors.push(`${e.region}:${(e.error as { code?: string }).code}`),
    )
    // The three local writes are pipelined on one connection: their replies all arrive before the reply to
    // eu's copy of 'a', so 'b' and 'c' queue behind it in eu's lane and 'b', the oldest, is dropped.
    await Promise.all([replicated.set('a', 1), replicated.set('b', 2), replicated.set('c', 3)])
    await replicated.flush()
    expect(dropped).toContain('eu')
    expect(await good.mget(['a', 'b', 'c'])).toEqual([1, undefined, 3])
    expect(errors.length).toBeGreaterThanOrEqual(1)
    expect(new Set(errors)).toEqual(new Set(['gone:E_CLOSED']))
    expect(await local.get('b')).toBe(2)
    await replicated.close()
    await good.close()
  })
})

describe('warmEvery with a function of loaders', () => {
  it('calls the function on every run and stores what its loaders return; a failing function is a problem, not a crash', async () => {
    const cache = new TieredCache<string>(conn, { namespace: uniquePrefix('warm'), coherence: 'none' })
    let calls = 0
    const problems: unknown[] = []
    cache.on('problem', (err: unknown) => problems.push(err))
    const job = cache.warmEvery(async () => {
      calls++
      if (calls === 2) throw new Error('no list this time')
      return [{ key: `w${calls}`, load: () => `v${calls}` }]
    }, '20ms')
    try {
      await waitFor('three runs', () => calls >= 3)
      await waitFor(
        'w1 and w3 stored',
        async () => (await cache.get('w1')) === 'v1' && (await cache.get('w3')) === 'v3',
      )
      expect(problems.map((p) => (p as Error).message)).toContain('no list this time')
    } finally {
      job.stop()
      await cache.clear()
      await cache.close()
    }
  })
})

describe('coherence messages beyond single keys', () => {
  it('bus: deletePattern in one process evicts the matching keys of the other, and only those', async () => {
    const namespace = uniquePrefix('busp')
    const a = new TieredCache<string>(conn, { namespace, coherence: 'bus' })
    const b = new TieredCache<string>(conn, { namespace, coherence: 'bus' })
    try {
      await Promise.all([a.ready, b.ready])
      for (const k of ['p:1', 'p:2', 'keep']) await a.set(k, k)
      for (const k of ['p:1', 'p:2', 'keep']) expect(await b.get(k)).toBe(k)
      const seen: unknown[] = []
      b.on('invalidate', (e: { parts: unknown }) => seen.push(e.parts))
      expect(await a.deletePattern('p:*')).toBe(2)
      await waitFor('b dropped the pattern', () => !b.cachedLocally('p:1') && !b.cachedLocally('p:2'))
      expect(b.cachedLocally('keep')).toBe(true)
      expect(await b.get('p:1')).toBeUndefined()
      // The escaped parts of exactly the matching keys.
      expect(seen.map((parts) => [...(parts as string[])].sort())).toEqual([['p%3A1', 'p%3A2']])
      // A clear elsewhere flushes all of b's L1 (reported as 'all').
      await a.clear()
      await waitFor('b flushed', () => !b.cachedLocally('keep'))
      expect(seen.at(-1)).toBe('all')
    } finally {
      await a.clear()
      await Promise.all([a.close(), b.close()])
    }
  })

  it('tracking: a FLUSHALL on the server (a null invalidation) empties every L1', async () => {
    const server = await startStandalone()
    const own = await connect({ url: server.url, namespace: 'flushall' })
    const cache = new TieredCache<string>(own, { namespace: 'c', coherence: 'tracking' })
    try {
      await cache.ready
      await cache.set('a', 'A')
      expect(await cache.get('a')).toBe('A')
      await waitFor('a in L1', async () => (await cache.get('a')) === 'A' && cache.cachedLocally('a'))
      await own.send(['FLUSHALL'])
      await waitFor('L1 emptied by the flush', () => !cache.cachedLocally('a'))
      expect(await cache.get('a')).toBeUndefined()
    } finally {
      await cache.close()
      await own.close()
      await server.stop()
    }
  })
})

describe('reads while Redis is down (own server, killed)', () => {
  it('get, mget and getManyOrSet serve L1 entries within grace (fail-safe), and fail where L1 has nothing', async () => {
    const server = await startStandalone()
    const own = await connect({
      url: server.url,
      namespace: 'down',
      commandTimeout: '300ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
      breaker: { failureThreshold: 2, resetTimeout: '200ms' },
    })
    own.on('error', () => {})
    let t = 9_000_000
    const options = { coherence: 'none', grace: '1h', now: () => t } as const
    const cache = new TieredCache<string>(own, { namespace: 'c', ...options })
    const strict = new TieredCache<string>(own, { namespace: 'c', ...options, failSafe: false })
    try {
      await cache.set('old', 'O', { ttl: '1s' })
      await strict.set('old', 'O', { ttl: '1s' })
      t += 5_000 // past the TTL, within grace: L1 must ask L2 first
      await server.master.kill()
      expect(await cache.get('old')).toBe('O')
      expect(await cache.mget(['old', 'never'])).toEqual(['O', undefined])
      expect(await codeOf(cache.mget(['never']))).toMatch(/^E_(UNAVAILABLE|TIMEOUT|CIRCUIT_OPEN)$/)
      const got = await cache.getManyOrSet(['old'], () => {
        throw new Error('the loader fails too')
      })
      expect(got.get('old')).toBe('O')
      // Without fail-safe the outage is an error, stale L1 or not.
      expect(await codeOf(strict.get('old'))).toMatch(/^E_(UNAVAILABLE|TIMEOUT|CIRCUIT_OPEN)$/)
      expect(await codeOf(strict.getManyOrSet(['old'], (keys) => ({ [keys[0]!]: 'N' })))).toMatch(
        /^E_(UNAVAILABLE|TIMEOUT|CIRCUIT_OPEN)$/,
      )
      // Operations that need Redis reject with the outage code, whatever L1 holds.
      const down = /^E_(UNAVAILABLE|TIMEOUT|CIRCUIT_OPEN)$/
      // getOrSet: a value within grace is served; without one the factory runs here; without fail-safe, an error.
      expect(await cache.getOrSet('old', () => 'fresh')).toBe('O')
      expect(await cache.getOrSet('computed', () => 'C', { ttl: '1m' })).toBe('C')
      expect(await cache.get('computed')).toBe('C')
      expect(await codeOf(strict.getOrSet('other', () => 'X'))).toMatch(down)
      expect(await codeOf(cache.has('never'))).toMatch(down)
      expect(await codeOf(cache.getWithTtl('never'))).toMatch(down)
      expect(await codeOf(cache.expire('old', '1m'))).toMatch(down)
      expect(await codeOf(cache.invalidateTags(['t']))).toMatch(down)
      expect(await codeOf(cache.invalidate('old'))).toMatch(down)
      expect(await codeOf(cache.deletePattern('o*'))).toMatch(down)
      expect(await codeOf(cache.clear())).toMatch(down)
      expect(await codeOf(strict.mget(['old']))).toMatch(down)
      // A delete while down: fail-safe drops L1 now and queues the L2 delete; without it, an error.
      expect(await strict.delete('old').catch((err: { code: string }) => err.code)).toMatch(down)
      expect(await cache.delete('old')).toBe(true)
      expect(cache.cachedLocally('old')).toBe(false)
      expect(cache.tierStats().offlineWritesQueued).toBeGreaterThanOrEqual(1)
    } finally {
      await server.master.restart()
      await Promise.all([cache.close(), strict.close()])
      await own.close()
      await server.stop()
    }
  })
})
