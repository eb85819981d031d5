import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { type CommandEvent, type Connection, connect, isCacheError } from '@cache/client'
import { codeOf, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { getChannel } from '../src/channels.js'
import { createCodec } from '../src/codec.js'
import { MemoryCache } from '../src/memory-cache.js'
import { RedisCache } from '../src/redis-cache.js'

const { standalone, cluster } = inject('redis')
let single: Connection
let single2: Connection
let sharded: Connection
const caches: RedisCache[] = []

const root = uniquePrefix('core')

beforeAll(async () => {
  ;[single, single2, sharded] = await Promise.all([
    connect({ url: standalone.url, namespace: root }),
    connect({ url: standalone.url, namespace: root }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('core') }),
  ])
})
afterAll(async () => {
  for (const c of caches) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await Promise.all([single?.close(), single2?.close(), sharded?.close()])
})

function make(conn: Connection, options: ConstructorParameters<typeof RedisCache>[1] = {}): RedisCache {
  const cache = new RedisCache(conn, { namespace: uniquePrefix('s'), ...options })
  caches.push(cache)
  return cache
}

/** Counts commands by name while `fn` runs (through the client's diagnostics channel). */
async function countCommands(fn: () => Promise<unknown>): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  const listener = (e: unknown) => {
    const name = (e as CommandEvent).command
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  diagnostics.subscribe('cache:client:command', listener)
  try {
    await fn()
  } finally {
    diagnostics.unsubscribe('cache:client:command', listener)
  }
  return counts
}

describe('RedisCache reads', () => {
  it('coalesces reads issued in the same tick into MGETs of at most coalesceMaxBatch keys, or not at all', async () => {
    const cache = make(single)
    await cache.mset(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: i })))
    let values: unknown[] = []
    const coalesced = await countCommands(async () => {
      values = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get(`k${i}`)))
    })
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i))
    // The first read finds nothing in flight and goes at once; the other 19 of the tick share one MGET.
    expect(coalesced.get('GET')).toBe(1)
    expect(coalesced.get('MGET')).toBe(1)
    const small = make(single, { namespace: cache.namespace, coalesceMaxBatch: 5 })
    const split = await countCommands(() =>
      Promise.all(Array.from({ length: 20 }, (_, i) => small.get(`k${i}`))),
    )
    expect(split.get('MGET')).toBe(4)
    const plain = make(single, { coalesce: false, namespace: cache.namespace })
    const separate = await countCommands(() =>
      Promise.all(Array.from({ length: 20 }, (_, i) => plain.get(`k${i}`))),
    )
    expect(separate.get('GET')).toBe(20)
  })

  it('a lone read is a single GET', async () => {
    const cache = make(single)
    const counts = await countCommands(() => cache.get('alone'))
    expect(counts.get('GET')).toBe(1)
    expect(counts.get('MGET') ?? 0).toBe(0)
  })

  it('on a cluster, same-tick reads are grouped per slot (no CROSSSLOT) and every value comes back', async () => {
    const cache = make(sharded)
    const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`)
    await cache.mset(keys.map((key, i) => ({ key, value: { i } })))
    const values = await Promise.all(keys.map((k) => cache.get(k)))
    expect(values).toEqual(keys.map((_, i) => ({ i })))
    expect(await cache.mget(keys)).toEqual(values)
  })

  it('one failing entry in a coalesced batch fails alone (E_DECODE), the others resolve', async () => {
    const cache = make(single)
    await cache.set('good', 'fine')
    await single.send(['SET', cache.redisKey('bad'), 'not an @cache value'])
    const [good, bad] = await Promise.allSettled([cache.get('good'), cache.get('bad')])
    expect(good).toEqual({ status: 'fulfilled', value: 'fine' })
    expect(bad.status).toBe('rejected')
    const err = (bad as PromiseRejectedResult).reason
    expect(isCacheError(err, 'E_DECODE')).toBe(true)
    expect(err.details.key).toBe('bad')
    expect(await codeOf(cache.mget(['good', 'bad']))).toBe('E_DECODE')
    expect(await codeOf(cache.getWithTtl('bad'))).toBe('E_DECODE')
    expect(cache.stats().errors).toBeGreaterThanOrEqual(3)
  })

  it('reads values written by any codec (the header describes them)', async () => {
    const ns = uniquePrefix('codec')
    const jsonWriter = make(single, {
      namespace: ns,
      codec: createCodec({ format: 'json', compressThreshold: 10 }),
    })
    const reader = make(single, { namespace: ns })
    await jsonWriter.set('doc', { text: 'hello '.repeat(100) })
    expect(await reader.get('doc')).toEqual({ text: 'hello '.repeat(100) })
  })
})

describe('RedisCache writes', () => {
  it.each([
    ['standalone', () => single],
    ['cluster', () => sharded],
  ])(
    'mset on %s: values and their tag/dependency indexes in one script call per slot; indexes live as long as their longest member',
    async (name, conn) => {
      const cache = make(conn())
      const entries = Array.from({ length: 100 }, (_, i) => ({
        key: `e:${i}`,
        value: { i },
        ttl: i === 7 ? '2h' : '1h',
        tags: i % 2 === 0 ? ['even', 'all'] : ['all'],
        ...(i < 3 ? { dependsOn: ['parent'] } : {}),
      }))
      const counts = await countCommands(() => cache.mset(entries))
      if (name === 'standalone') expect([...counts]).toEqual([['EVALSHA core:mset', 1]])
      else expect(counts.get('EVALSHA core:mset')).toBeGreaterThan(1)
      expect(await cache.mget(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value))
      expect(await cache.ttl('e:7')).toBeGreaterThan(3_600_000)
      expect(await cache.ttl('e:8')).toBeLessThanOrEqual(3_600_000)
      const prefix = cache.redisKey('x').slice(0, -'v:{x}'.length)
      const tagTtl = Number(await conn().send(['PTTL', `${prefix}t:{all}`], { key: `${prefix}t:{all}` }))
      expect(tagTtl).toBeGreaterThan(3_600_000)
      expect(await cache.invalidate('parent')).toBe(3)
      expect(await cache.mget(['e:0', 'e:1', 'e:2', 'e:3'])).toEqual([
        undefined,
        undefined,
        undefined,
        { i: 3 },
      ])
      expect(await cache.invalidateTags(['even'])).toBe(48)
      expect(await cache.get('e:4')).toBeUndefined()
      expect(await cache.get('e:5')).toEqual({ i: 5 })
      expect(await cache.invalidateTags(['all'])).toBe(49)
      expect(await cache.get('e:5')).toBeUndefined()
    },
  )

  it('mset sends the values of one script call back to back; calls split at 8 MiB of values, each value intact', async () => {
    const cache = make(single)
    // Sizes around the split point, incompressible (LZ4 leaves them as large), with multi-byte text: every
    // value must come back byte for byte.
    const entries = [3, 3, 1.5, 0.75, 2].map((mib, i) => ({
      key: `big:${i}`,
      value: `é€${i}${randomBytes(Math.round(mib * 786_432)).toString('base64')}`,
    }))
    const counts = await countCommands(() => cache.mset([...entries, { key: 'small', value: { ok: true } }]))
    expect(counts.get('EVALSHA core:mset')).toBe(2)
    expect(await cache.mget([...entries.map((e) => e.key), 'small'])).toEqual([
      ...entries.map((e) => e.value),
      { ok: true },
    ])
  })

  it('mset of entries sharing one TTL (sent once for the call) stores every value with that TTL', async () => {
    const cache = make(single)
    const entries = Array.from({ length: 50 }, (_, i) => ({ key: `same:${i}`, value: { i }, ttl: '2h' }))
    await cache.mset(entries)
    expect(await cache.mget(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value))
    for (const e of [entries[0], entries[49]]) {
      const ttl = await cache.ttl((e as { key: string }).key)
      expect(ttl).toBeGreaterThan(3_600_000)
      expect(ttl).toBeLessThanOrEqual(7_200_000)
    }
  })

  it('mset validates every entry before storing any: a bad tag list late in the batch stores nothing', async () => {
    const cache = make(single)
    const bad = [
      { key: 'v:1', value: 1, tags: ['t'] },
      { key: 'v:2', value: 2, tags: 'not-a-list' as unknown as string[] },
    ]
    expect(await codeOf(cache.mset(bad))).toBe('E_INVALID_OPTION')
    expect(await cache.mget(['v:1', 'v:2'])).toEqual([undefined, undefined])
    expect(await cache.invalidateTags(['t'])).toBe(0)
  })

  it('refuses values it cannot encode (E_ENCODE) or that are too large (E_VALUE_TOO_LARGE); nothing is stored', async () => {
    const cache = make(single, { maxValueBytes: 1000, codec: createCodec({ compressThreshold: false }) })
    expect(await codeOf(cache.set('f', { fn: () => 1 }))).toBe('E_ENCODE')
    expect(await codeOf(cache.set('big', 'x'.repeat(2000)))).toBe('E_VALUE_TOO_LARGE')
    expect(
      await codeOf(
        cache.mset([
          { key: 'ok', value: 1 },
          { key: 'big', value: 'x'.repeat(2000) },
        ]),
      ),
    ).toBe('E_VALUE_TOO_LARGE')
    expect(await cache.mget(['f', 'big', 'ok'])).toEqual([undefined, undefined, undefined])
  })

  it('keeps namespaces apart: same key, different caches; clear() touches only its own', async () => {
    const a = make(single)
    const b = make(single)
    await a.set('shared', 'a', { tags: ['t'] })
    await b.set('shared', 'b', { tags: ['t'] })
    await a.clear()
    expect(await a.get('shared')).toBeUndefined()
    expect(await b.get('shared')).toBe('b')
    expect(await a.invalidateTags(['t'])).toBe(0)
    expect(await b.invalidateTags(['t'])).toBe(1)
  })

  it('deletePattern scans every cluster master and deletes only matching keys of its namespace', async () => {
    const cache = make(sharded)
    const other = make(sharded)
    const keys = Array.from({ length: 400 }, (_, i) => `item:${i}`)
    await cache.mset(keys.map((key) => ({ key, value: 1 })))
    await other.mset(keys.slice(0, 10).map((key) => ({ key, value: 1 })))
    await cache.set('keep', 1)
    expect(await cache.deletePattern('item:*')).toBe(400)
    expect(await cache.get('keep')).toBe(1)
    expect(await other.mget(keys.slice(0, 10))).toEqual(Array(10).fill(1))
  })

  it('deletePattern, invalidateTags and clear work through several SCAN batches and command slices', async () => {
    const cache = make(single)
    const keys = Array.from({ length: 1500 }, (_, i) => `bulk:${i}`)
    await cache.mset(keys.map((key) => ({ key, value: 1, tags: ['bulk'] })))
    expect(await cache.deletePattern('bulk:1*')).toBe(keys.filter((k) => k.startsWith('bulk:1')).length)
    expect(await cache.invalidateTags(['bulk'])).toBe(keys.filter((k) => !k.startsWith('bulk:1')).length)
    await cache.mset(keys.map((key) => ({ key, value: 2 })))
    await cache.clear()
    expect((await cache.mget(keys)).every((v) => v === undefined)).toBe(true)
  })

  it('tag and dependant indexes expire with their longest-lived member', async () => {
    const cache = make(single)
    await cache.set('a', 1, { ttl: '1m', tags: ['t'], dependsOn: ['p'] })
    await cache.set('b', 1, { ttl: '2h', tags: ['t'] })
    const tagKey = cache.redisKey('x').replace(/v:\{x\}$/, 't:{t}')
    const pttl = Number(await single.send(['PTTL', tagKey]))
    expect(pttl).toBeGreaterThan(3_600_000)
    const depKey = cache.redisKey('x').replace(/v:\{x\}$/, 'd:{p}')
    const depTtl = Number(await single.send(['PTTL', depKey]))
    expect(depTtl).toBeGreaterThan(0)
    expect(depTtl).toBeLessThanOrEqual(60_000)
  })

  it('rejects bad options with E_INVALID_OPTION naming the field', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ namespace: 'a b' }, 'namespace'],
      [{ namespace: '' }, 'namespace'],
      [{ defaultTtl: 10 }, 'defaultTtl'],
      [{ codec: {} }, 'codec'],
      [{ maxValueBytes: 0 }, 'maxValueBytes'],
      [{ lease: '10ms' }, 'lease'],
      [{ leasePoll: 'often' }, 'leasePoll'],
      [{ coalesce: 'yes' }, 'coalesce'],
      [{ coalesceMaxBatch: 0 }, 'coalesceMaxBatch'],
      [{ extra: true }, 'extra'],
    ]
    for (const [options, field] of bad) {
      try {
        new RedisCache(single, options as never)
        expect.unreachable(field)
      } catch (err) {
        expect(isCacheError(err, 'E_INVALID_OPTION')).toBe(true)
        expect((err as { field: string }).field).toBe(field)
      }
    }
  })
})

describe('RedisCache stats', () => {
  it('shares counters across processes through Redis when asked', async () => {
    const ns = uniquePrefix('stats')
    const a = make(single, { namespace: ns, sharedStats: true })
    const b = make(single2, { namespace: ns, sharedStats: true })
    await a.set('k', 1)
    await a.get('k')
    await b.get('k')
    await b.get('missing')
    await a.flushStats()
    const shared = await b.sharedStats()
    expect(shared).toMatchObject({ namespace: ns, hits: 2, misses: 1, sets: 1 })
    expect(shared.hitRatio).toBeCloseTo(2 / 3)
    expect(a.stats().hits).toBe(1)
  })
})

describe('RedisCache diagnostics', () => {
  it('publishes one cache:core:get message per key read (get, mget, getOrSet) with namespace, tier and outcome', async () => {
    const cache = make(single)
    const memory = new MemoryCache({ namespace: 'mem-diag' })
    await cache.set('a', 1)
    await memory.set('m', 1)
    const seen: Array<{ namespace: string; tier: string; outcome: string }> = []
    const sub = (m: unknown) => seen.push(m as (typeof seen)[number])
    getChannel.subscribe(sub)
    try {
      await cache.get('a')
      await cache.mget(['a', 'b'])
      await cache.getOrSet('c', async () => 3)
      await memory.get('m')
      await memory.get('nope')
    } finally {
      getChannel.unsubscribe(sub)
    }
    const redis = seen.filter((m) => m.namespace === cache.namespace)
    expect(redis.map((m) => m.outcome)).toEqual(['hit', 'hit', 'miss', 'miss'])
    expect(new Set(redis.map((m) => m.tier))).toEqual(new Set(['redis']))
    expect(seen.filter((m) => m.namespace === 'mem-diag')).toEqual([
      { namespace: 'mem-diag', tier: 'memory', outcome: 'hit' },
      { namespace: 'mem-diag', tier: 'memory', outcome: 'miss' },
    ])
    await memory.close()
  })
})
