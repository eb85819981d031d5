import { type CacheError, isCacheError } from '@cache/client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Cache } from '../src/cache.js'

/** What a contract run needs: a fresh, empty cache and a way to dispose of it. */
export type MakeCache = () => Promise<{ cache: Cache<unknown>; cleanup(): Promise<void> }>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function rejection(p: Promise<unknown>): Promise<CacheError> {
  try {
    await p
  } catch (err) {
    if (isCacheError(err)) return err
    throw err
  }
  throw new Error('expected a rejection')
}

/**
 * The behaviour every `Cache` implementation shares (memory, Redis standalone and Cluster, tiered). Run it
 * from an integration test file: `runCacheContract('RedisCache standalone', async () => ({ cache, cleanup }))`.
 */
export function runCacheContract(label: string, makeCache: MakeCache): void {
  describe(`Cache contract: ${label}`, () => {
    let cache: Cache<unknown>
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      ;({ cache, cleanup } = await makeCache())
    })
    afterEach(async () => {
      await cleanup()
    })

    it('misses read as undefined; set then get returns an equal value of any shape', async () => {
      expect(await cache.get('missing')).toBeUndefined()
      const values: unknown[] = [
        'text',
        '',
        0,
        -1.5,
        false,
        true,
        null,
        [1, 'two', null],
        { nested: { deep: [1, { x: 'y' }] }, emoji: '✓ 🚀' },
        'x'.repeat(5000),
      ]
      for (const [i, v] of values.entries()) await cache.set(`k${i}`, v)
      for (const [i, v] of values.entries()) expect(await cache.get(`k${i}`)).toEqual(v)
    })

    it('set overwrites; delete removes and reports whether the key existed; has follows', async () => {
      await cache.set('a', 1)
      await cache.set('a', 2)
      expect(await cache.get('a')).toBe(2)
      expect(await cache.has('a')).toBe(true)
      expect(await cache.delete('a')).toBe(true)
      expect(await cache.delete('a')).toBe(false)
      expect(await cache.has('a')).toBe(false)
      expect(await cache.get('a')).toBeUndefined()
    })

    it('keys are taken literally: separators, braces, glob characters and long keys do not collide', async () => {
      const keys = [
        'a:b',
        'a%3Ab',
        '{tag}',
        'x*',
        'x?',
        '[x]',
        'a\\b',
        'k'.repeat(500),
        `${'k'.repeat(500)}2`,
        'ü',
      ]
      for (const [i, k] of keys.entries()) await cache.set(k, i)
      expect(await cache.mget(keys)).toEqual(keys.map((_, i) => i))
    })

    it('ttl, expire and getWithTtl report and change the remaining time', async () => {
      await cache.set('t', 'v', { ttl: '1m' })
      const ttl = await cache.ttl('t')
      expect(ttl).toBeGreaterThan(55_000)
      expect(ttl).toBeLessThanOrEqual(60_000)
      expect(await cache.ttl('none')).toBeUndefined()
      expect(await cache.expire('t', '2h')).toBe(true)
      expect(await cache.ttl('t')).toBeGreaterThan(3_600_000)
      expect(await cache.expire('none', '1m')).toBe(false)
      const withTtl = await cache.getWithTtl('t')
      expect(withTtl?.value).toBe('v')
      expect(withTtl?.ttl).toBeGreaterThan(3_600_000)
      expect(await cache.getWithTtl('none')).toBeUndefined()
    })

    it('an expired entry is never returned', async () => {
      await cache.set('short', 'v', { ttl: 1000 })
      await cache.mset([{ key: 'short2', value: 'v', ttl: 1000 }])
      expect(await cache.get('short')).toBe('v')
      await sleep(1100)
      expect(await cache.get('short')).toBeUndefined()
      expect(await cache.mget(['short', 'short2'])).toEqual([undefined, undefined])
      expect(await cache.has('short')).toBe(false)
      expect(await cache.getWithTtl('short')).toBeUndefined()
    })

    it('setIfAbsent stores only when missing, and concurrent callers have exactly one winner', async () => {
      expect(await cache.setIfAbsent('s', 1)).toBe(true)
      expect(await cache.setIfAbsent('s', 2)).toBe(false)
      expect(await cache.get('s')).toBe(1)
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.setIfAbsent('race', i)))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await cache.get('race')).toBe(results.indexOf(true))
    })

    it('mget keeps order with misses; mset stores with per-entry options', async () => {
      expect(await cache.mget([])).toEqual([])
      await cache.mset([
        { key: 'm1', value: 'one' },
        { key: 'm2', value: { two: 2 }, ttl: '1h' },
      ])
      expect(await cache.mget(['m1', 'nope', 'm2'])).toEqual(['one', undefined, { two: 2 }])
      expect(await cache.ttl('m2')).toBeGreaterThan(3_000_000)
      const many = Array.from({ length: 100 }, (_, i) => ({ key: `many:${i}`, value: i }))
      await cache.mset(many)
      expect(await cache.mget(many.map((e) => e.key))).toEqual(many.map((e) => e.value))
    })

    it('concurrent reads and writes of distinct keys all land', async () => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`c:${i}`, i)))
      const values = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.get(`c:${i}`)))
      expect(values).toEqual(Array.from({ length: 200 }, (_, i) => i))
    })

    it('rejects bad input with typed errors naming the field, and stores nothing', async () => {
      for (const ttl of [999, '31d', -1, 'soon']) {
        const err = await rejection(cache.set('bad', 1, { ttl }))
        expect(err.code).toBe('E_INVALID_OPTION')
        expect(err.details.field).toBe('ttl')
      }
      expect((await rejection(cache.set('', 1))).details.field).toBe('key')
      expect((await rejection(cache.get(''))).code).toBe('E_INVALID_OPTION')
      expect((await rejection(cache.expire('bad', 10))).details.field).toBe('ttl')
      expect((await rejection(cache.set('bad', 1, { tags: [''] }))).details.field).toBe('tags.0')
      expect((await rejection(cache.set('bad', 1, { keepVersions: -1 }))).details.field).toBe('keepVersions')
      expect((await rejection(cache.set('bad', undefined))).code).toBe('E_ENCODE')
      expect((await rejection(cache.deletePattern(''))).details.field).toBe('pattern')
      expect(await cache.has('bad')).toBe(false)
    })

    it('getOrSet: one factory call for concurrent misses, hits skip it, all callers get the value', async () => {
      let calls = 0
      const factory = async () => {
        calls++
        await sleep(30)
        return { computed: true }
      }
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('gos', factory)))
      expect(calls).toBe(1)
      for (const r of results) expect(r).toEqual({ computed: true })
      expect(await cache.getOrSet('gos', factory)).toEqual({ computed: true })
      expect(calls).toBe(1)
      expect(await cache.get('gos')).toEqual({ computed: true })
    })

    it('getOrSet: a factory error reaches every waiter and caches nothing; the next call retries', async () => {
      let calls = 0
      const boom = new Error('factory failed')
      const failing = async () => {
        calls++
        await sleep(20)
        throw boom
      }
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, () => cache.getOrSet('err', failing)),
      )
      expect(calls).toBe(1)
      for (const s of settled) {
        expect(s.status).toBe('rejected')
        expect((s as PromiseRejectedResult).reason).toBe(boom)
      }
      expect(await cache.has('err')).toBe(false)
      expect(await cache.getOrSet('err', () => 'ok')).toBe('ok')
      expect(calls).toBe(1)
    })

    it('getOrSet stores with the given ttl and validates it before calling the factory', async () => {
      await cache.getOrSet('gttl', () => 1, { ttl: '2h' })
      expect(await cache.ttl('gttl')).toBeGreaterThan(3_600_000)
      let called = false
      const err = await rejection(
        cache.getOrSet(
          'gbad',
          () => {
            called = true
            return 1
          },
          { ttl: 10 },
        ),
      )
      expect(err.details.field).toBe('ttl')
      for (const [options, field] of [
        [{ tags: [''] }, 'tags.0'],
        [{ dependsOn: 'x' }, 'dependsOn'],
        [{ keepVersions: 1.5 }, 'keepVersions'],
      ] as const) {
        expect((await rejection(cache.getOrSet('gbad', () => 1, options as never))).details.field).toBe(field)
      }
      expect(called).toBe(false)
    })

    it('invalidateTags removes every key carrying a tag, and only those', async () => {
      await cache.set('a', 1, { tags: ['x'] })
      await cache.set('b', 2, { tags: ['x', 'y'] })
      await cache.set('c', 3, { tags: ['y'] })
      await cache.set('d', 4)
      expect(await cache.invalidateTags(['x'])).toBe(2)
      expect(await cache.mget(['a', 'b', 'c', 'd'])).toEqual([undefined, undefined, 3, 4])
      expect(await cache.invalidateTags(['y', 'nothing'])).toBe(1)
      expect(await cache.has('c')).toBe(false)
      expect(await cache.invalidateTags([])).toBe(0)
    })

    it('concurrent invalidations of the same tags never count a key twice, and tagged writes racing them all land or go', async () => {
      await cache.mset(Array.from({ length: 100 }, (_, i) => ({ key: `r:${i}`, value: i, tags: ['race'] })))
      const counts = await Promise.all(Array.from({ length: 10 }, () => cache.invalidateTags(['race'])))
      expect(counts.reduce((a, b) => a + b, 0)).toBe(100)
      expect(await cache.mget(['r:0', 'r:99'])).toEqual([undefined, undefined])
      // Writes and invalidations interleaved: afterwards one more invalidation leaves nothing tagged behind.
      await Promise.all([
        ...Array.from({ length: 50 }, (_, i) => cache.set(`w:${i}`, i, { tags: ['race'] })),
        ...Array.from({ length: 5 }, () => cache.invalidateTags(['race'])),
      ])
      await cache.invalidateTags(['race'])
      const left = await cache.mget(Array.from({ length: 50 }, (_, i) => `w:${i}`))
      expect(left.every((v) => v === undefined)).toBe(true)
    })

    it('invalidate cascades through dependencies (transitively, cycles included) and spares the rest', async () => {
      await cache.set('A', 'a')
      await cache.set('B', 'b', { dependsOn: ['A'] })
      await cache.set('C', 'c', { dependsOn: ['B'] })
      await cache.set('D', 'd', { dependsOn: ['Z'] })
      await cache.set('E', 'e')
      expect(await cache.invalidate('A')).toBe(3)
      expect(await cache.mget(['A', 'B', 'C', 'D', 'E'])).toEqual([undefined, undefined, undefined, 'd', 'e'])
      expect(await cache.invalidate('Z')).toBe(1)
      expect(await cache.has('D')).toBe(false)
      await cache.set('X', 1, { dependsOn: ['Y'] })
      await cache.set('Y', 2, { dependsOn: ['X'] })
      expect(await cache.invalidate('X')).toBe(2)
      await cache.set('T', 1, { tags: ['t'] })
      await cache.set('U', 2, { dependsOn: ['T'] })
      expect(await cache.invalidateTags(['t'])).toBe(2)
    })

    it('deletePattern matches inside the namespace with globs; glob characters in keys stay literal', async () => {
      for (const k of ['user:1', 'user:2', 'user:10', 'order:1', 'star*', 'starry', 'q?', 'qq'])
        await cache.set(k, k)
      expect(await cache.deletePattern('user:?')).toBe(2)
      expect(await cache.has('user:10')).toBe(true)
      expect(await cache.deletePattern('user:*')).toBe(1)
      expect(await cache.deletePattern('star\\*')).toBe(1)
      expect(await cache.get('starry')).toBe('starry')
      expect(await cache.deletePattern('q\\?')).toBe(1)
      expect(await cache.get('qq')).toBe('qq')
      expect(await cache.deletePattern('nothing*')).toBe(0)
      expect(await cache.get('order:1')).toBe('order:1')
    })

    it('clear removes every key of the cache', async () => {
      await cache.mset(Array.from({ length: 30 }, (_, i) => ({ key: `cl:${i}`, value: i, tags: ['t'] })))
      await cache.clear()
      expect(await cache.mget(['cl:0', 'cl:29'])).toEqual([undefined, undefined])
      expect(await cache.invalidateTags(['t'])).toBe(0)
    })

    it('versions keeps the last n values newest first; rollback restores one as a new version', async () => {
      for (const v of ['v1', 'v2', 'v3', 'v4']) await cache.set('doc', v, { keepVersions: 3 })
      const history = await cache.versions('doc')
      expect(history.map((h) => h.version)).toEqual([4, 3, 2])
      expect(history.map((h) => h.value)).toEqual(['v4', 'v3', 'v2'])
      expect(history[0]!.createdAt).toBeGreaterThan(Date.now() - 60_000)
      await cache.rollback('doc', 2)
      expect(await cache.get('doc')).toBe('v2')
      expect((await cache.versions('doc')).map((h) => [h.version, h.value])).toEqual([
        [5, 'v2'],
        [4, 'v4'],
        [3, 'v3'],
      ])
      expect((await rejection(cache.rollback('doc', 1))).code).toBe('E_VERSION_NOT_FOUND')
      expect((await rejection(cache.rollback('none', 1))).code).toBe('E_VERSION_NOT_FOUND')
      expect(await cache.versions('none')).toEqual([])
    })

    it('stats count hits, misses, sets and deletes per namespace', async () => {
      await cache.set('s1', 1)
      await cache.get('s1')
      await cache.get('s1')
      await cache.get('nope')
      await cache.delete('s1')
      const s = cache.stats()
      expect(s.namespace).toBe(cache.namespace)
      expect(s.hits).toBeGreaterThanOrEqual(2)
      expect(s.misses).toBeGreaterThanOrEqual(1)
      expect(s.sets).toBeGreaterThanOrEqual(1)
      expect(s.deletes).toBeGreaterThanOrEqual(1)
      expect(s.hitRatio).toBeGreaterThan(0)
      expect(s.hitRatio).toBeLessThanOrEqual(1)
      expect(s.latency.samples).toBeGreaterThan(0)
      expect(s.latency.p99).toBeGreaterThanOrEqual(s.latency.p50)
    })

    it('after close, operations reject with E_CLOSED; close is idempotent', async () => {
      await cache.close()
      await cache.close()
      expect((await rejection(cache.get('x'))).code).toBe('E_CLOSED')
      expect((await rejection(cache.set('x', 1))).code).toBe('E_CLOSED')
    })
  })
}
