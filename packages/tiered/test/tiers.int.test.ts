import { type Connection, connect, isCacheError } from '@cache/client'
import { MemoryCache, RedisCache } from '@cache/core'
import { uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache } from '../src/index.js'

const { standalone, cluster } = inject('redis')
let conn: Connection
let big: Connection
const opened: Array<TieredCache<unknown>> = []

beforeAll(async () => {
  ;[conn, big] = await Promise.all([
    connect({ url: standalone.url, namespace: uniquePrefix('tiered-t') }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('tiered-l3') }),
  ])
})
afterAll(async () => {
  for (const c of opened) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await Promise.all([conn?.close(), big?.close()])
})

function make(options: Record<string, unknown> = {}) {
  const cache = new TieredCache<unknown>(conn, {
    namespace: uniquePrefix('t'),
    coherence: 'none',
    ...options,
  })
  opened.push(cache)
  return cache
}

const fieldOf = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (err) {
    if (isCacheError(err)) return `${err.code}:${String(err.details.field)}`
    throw err
  }
  return 'ok'
}

describe('getManyOrSet, warm, tierStats and L3', () => {
  it('getManyOrSet calls loadMissing once with only the missing keys, stores them, returns a Map in key order', async () => {
    const cache = make()
    await cache.mset([
      { key: 'a', value: 'A' },
      { key: 'c', value: 'C' },
    ])
    const asked: string[][] = []
    const load = async (keys: string[]) => {
      asked.push(keys)
      return new Map(keys.filter((k) => k !== 'nope').map((k) => [k, k.toUpperCase()]))
    }
    const many = await cache.getManyOrSet(['a', 'b', 'c', 'd', 'b', 'nope'], load)
    expect([...many]).toEqual([
      ['a', 'A'],
      ['b', 'B'],
      ['c', 'C'],
      ['d', 'D'],
    ])
    expect(asked).toEqual([['b', 'd', 'nope']])
    expect(
      await cache.getManyOrSet(['a', 'b', 'd'], (keys) => Object.fromEntries(keys.map((k) => [k, 0]))),
    ).toEqual(
      new Map([
        ['a', 'A'],
        ['b', 'B'],
        ['d', 'D'],
      ]),
    )
    expect(
      await cache.getManyOrSet(['nope'], (keys) => Object.fromEntries(keys.map((k) => [k, 'now']))),
    ).toEqual(new Map([['nope', 'now']]))
    expect(await fieldOf(cache.getManyOrSet(['x'], 'no' as never))).toBe('E_INVALID_OPTION:loadMissing')
    expect(await fieldOf(cache.getManyOrSet(['x', ''], () => ({})))).toBe('E_INVALID_OPTION:keys.1')
    expect(await fieldOf(cache.getManyOrSet(['x'], () => ({}), { ttl: 5 }))).toBe('E_INVALID_OPTION:ttl')
  })

  it('warm loads every key with bounded concurrency, reports progress and counts failures', async () => {
    const cache = make()
    let active = 0
    let peak = 0
    const loaders = Array.from({ length: 40 }, (_, i) => ({
      key: `w:${i}`,
      load: async () => {
        active++
        peak = Math.max(peak, active)
        await new Promise((r) => setTimeout(r, 2))
        active--
        if (i === 7) throw new Error('source down')
        return i
      },
    }))
    const progress: number[] = []
    const result = await cache.warm(loaders, {
      concurrency: 4,
      onProgress: (p) => progress.push(p.done),
      ttl: '1h',
    })
    expect(result.done).toBe(40)
    expect(result.failed).toBe(1)
    expect(result.errors.map((e) => e.key)).toEqual(['w:7'])
    expect(peak).toBeLessThanOrEqual(4)
    expect(peak).toBeGreaterThan(1)
    expect(progress).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(await cache.get('w:39')).toBe(39)
    expect(await cache.has('w:7')).toBe(false)
    expect(await cache.ttl('w:0')).toBeGreaterThan(3_000_000)
    expect(await fieldOf(cache.warm([], { concurrency: 0 }))).toBe('E_INVALID_OPTION:concurrency')
    expect(await fieldOf(cache.warm([{ key: '', load: () => 1 }]))).toBe('E_INVALID_OPTION:loaders.0.key')
    expect(await fieldOf(cache.warm([{ key: 'k', load: 1 as never }]))).toBe(
      'E_INVALID_OPTION:loaders.0.load',
    )
  })

  it('warmEvery warms now and on schedule until stopped; a failing list is reported, not thrown', async () => {
    const cache = make()
    let version = 0
    const runs: number[] = []
    const job = cache.warmEvery(
      () => {
        version++
        return [{ key: 'sched', load: () => version }]
      },
      '40ms',
      { onRun: (r) => runs.push(r.done) },
    )
    await waitFor('three runs', () => job.runs >= 3, { timeoutMs: 5000, intervalMs: 10 })
    job.stop()
    const after = job.runs
    expect(await cache.get('sched')).toBeGreaterThanOrEqual(3)
    await new Promise((r) => setTimeout(r, 120))
    expect(job.runs).toBe(after)
    expect(runs.every((d) => d === 1)).toBe(true)
    const problems: unknown[] = []
    cache.on('problem', (e) => problems.push(e))
    const failing = cache.warmEvery(() => Promise.reject(new Error('list unavailable')), '1h')
    await waitFor('the failure reported', () => problems.length === 1, { timeoutMs: 5000, intervalMs: 10 })
    failing.stop()
    expect(failing.runs).toBe(0)
    expect(() => cache.warmEvery([], 'soon')).toThrow(/interval/)
  })

  it('tierStats reports L1/L2 hit ratios, factory calls made and saved, bytes served', async () => {
    const cache = make()
    await cache.set('s', { text: 'x'.repeat(100) })
    await cache.get('s') // L1 (filled by the write)
    await cache.get('missing') // L1 miss, L2 miss
    await cache.getOrSet('g', () => 1)
    await cache.getOrSet('g', () => 2)
    const s = cache.tierStats()
    expect(s.l1.hits).toBe(2)
    expect(s.l1.misses).toBe(2)
    expect(s.l1.hitRatio).toBeCloseTo(0.5)
    expect(s.l2.misses).toBe(2)
    expect(s.l3).toBeUndefined()
    expect(s.factoryCalls).toBe(1)
    expect(s.factoryCallsSaved).toBe(1)
    expect(s.bytesServed).toBeGreaterThan(100)
    expect(s.l1.entries).toBe(2)
    expect(s.coherent).toBe(true)
  })

  it('L3: writes go through to it; an L2 miss is answered by L3 and promoted to L2 and L1', async () => {
    const l3 = new RedisCache<unknown>(big, { namespace: uniquePrefix('l3') })
    const cache = make({ l3 })
    await cache.set('p', 'deep', { ttl: '1h' })
    expect(await l3.get('p')).toBeDefined()
    // L2 loses the key (eviction, restart…): L3 still has it.
    await conn.send(['DEL', cache.redisKey('p')])
    const fresh = make({ l3, namespace: cache.namespace })
    expect(await fresh.get('p')).toBe('deep')
    expect(fresh.tierStats().l3).toMatchObject({ hits: 1, misses: 0 })
    expect(await conn.send(['EXISTS', cache.redisKey('p')])).toBe(1)
    expect(await conn.send(['PTTL', cache.redisKey('p')])).toBeGreaterThan(3_000_000)
    expect(fresh.cachedLocally('p')).toBe(true)
    // Deletes reach L3 too.
    await fresh.delete('p')
    expect(await l3.get('p')).toBeUndefined()
    expect(await fresh.get('p')).toBeUndefined()
    expect(fresh.tierStats().l3).toMatchObject({ misses: 1 })
    await l3.clear()
  })

  it('a failing L3 counts as a miss and is reported, never breaking reads', async () => {
    const l3 = new MemoryCache<unknown>()
    await l3.close() // every call now rejects with E_CLOSED
    const cache = make({ l3 })
    const problems: unknown[] = []
    cache.on('problem', (e) => problems.push(e))
    expect(await cache.get('nothing')).toBeUndefined()
    await cache.set('k', 1)
    expect(cache.tierStats().l3?.errors).toBe(2)
    expect(problems.every((p) => isCacheError(p, 'E_CLOSED'))).toBe(true)
  })
})
