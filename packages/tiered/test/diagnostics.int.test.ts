import diagnostics from 'node:diagnostics_channel'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache, type TieredGetEvent } from '../src/index.js'

const { standalone } = inject('redis')
let conn: Connection

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('tiered-dc') })
})
afterAll(async () => {
  await conn?.close()
})

describe('diagnostics channel cache:tiered:get', () => {
  it('publishes { namespace, tier, outcome } per key read of each tier, matching tierStats()', async () => {
    let t = 5_000_000
    const namespace = uniquePrefix('dc')
    const l3 = new RedisCache<unknown>(conn, { namespace: `${namespace}-l3` })
    const cache = new TieredCache<string>(conn, {
      namespace,
      coherence: 'none',
      l3,
      grace: '1h',
      now: () => t,
    })
    const other = new TieredCache<string>(conn, { namespace: uniquePrefix('dc-other'), coherence: 'none' })
    const events: TieredGetEvent[] = []
    const listener = (m: unknown) => {
      if ((m as TieredGetEvent).namespace === namespace) events.push(m as TieredGetEvent)
    }
    diagnostics.subscribe('cache:tiered:get', listener)
    const take = () => events.splice(0).map((e) => `${e.tier}:${e.outcome}`)
    try {
      await cache.set('a', 'A')
      expect(await cache.get('a')).toBe('A')
      expect(take()).toEqual(['l1:hit'])
      expect(await cache.get('nope')).toBeUndefined()
      expect(take()).toEqual(['l1:miss', 'l2:miss', 'l3:miss'])
      // Only in L3: promoted on the way.
      await l3.set('deep', ['D', t + 60_000, 60_000])
      expect(await cache.get('deep')).toBe('D')
      expect(take()).toEqual(['l1:miss', 'l2:miss', 'l3:hit'])
      // A second process-like instance has a cold L1: L2 answers.
      const twin = new TieredCache<string>(conn, { namespace, coherence: 'none', now: () => t })
      const twinEvents: string[] = []
      expect(await twin.get('a')).toBe('A')
      twinEvents.push(...take())
      expect(twinEvents).toEqual(['l1:miss', 'l2:hit'])
      await twin.close()
      // Past its TTL, within grace: getOrSet serves the L2 copy stale while one refresh runs.
      await cache.set('s', 'old', { ttl: '1s' })
      t += 5_000
      expect(await cache.getOrSet('s', () => 'new')).toBe('old')
      expect(take()).toEqual(['l1:miss', 'l2:hit', 'l2:stale'])
      // Batch reads publish per key.
      await cache.getManyOrSet(['a', 'm1', 'deep'], (keys) => Object.fromEntries(keys.map((k) => [k, k])))
      expect(take()).toEqual(['l1:hit', 'l1:miss', 'l1:hit', 'l2:miss', 'l3:miss'])
      // Reads of another namespace carry their own.
      await other.get('x')
      expect(take()).toEqual([])
      const s = cache.tierStats()
      expect(s.l1.hits + s.l1.misses).toBe(7)
      expect(s.staleServed).toBe(1)
    } finally {
      diagnostics.unsubscribe('cache:tiered:get', listener)
      await cache.clear()
      await l3.clear()
      await Promise.all([cache.close(), other.close()])
    }
  })
})
