import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { codeOf, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache } from '../src/index.js'

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
      expect(await cache.mget(['a', 'b', 'q:1'])).toEqual([undefined, undefined, undefined])
    } finally {
      await cache.clear()
      await cache.close()
    }
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
    } finally {
      await cache.close()
    }
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
