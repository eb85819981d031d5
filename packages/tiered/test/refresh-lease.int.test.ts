import { type Connection, connect } from '@cache/client'
import { uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { TieredCache } from '../src/index.js'

const { standalone } = inject('redis')
let conn: Connection

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('tiered-lease') })
})
afterAll(() => conn.close())

describe('the refresh lease (shared owner-token Lease)', () => {
  it('overrun: a refresh factory running past its lease does not delete the next holder’s lease', async () => {
    const clock = { t: Date.now() }
    const cache = new TieredCache<string>(conn, {
      namespace: uniquePrefix('ov'),
      coherence: 'none',
      grace: '1h',
      now: () => clock.t,
    })
    try {
      await cache.set('k', 'old', { ttl: '1s' })
      clock.t += 1_500
      const leaseKey = cache.redisKey('k').replace(':v:{', ':tr:{')
      let release: (v: string) => void = () => {}
      let calls = 0
      const factory = () => {
        calls++
        return new Promise<string>((resolve) => {
          release = resolve
        })
      }
      // The stale value is served while one refresh runs under the lease.
      expect(await cache.getOrSet('k', factory)).toBe('old')
      await waitFor('the refresh started', () => calls === 1)
      const ours = await conn.send<string>(['GET', leaseKey], { key: leaseKey })
      expect(typeof ours).toBe('string')
      // The factory overruns: its lease expires and another process takes the refresh lease over.
      await conn.send(['SET', leaseKey, 'next-holder', 'PX', '60000'], { key: leaseKey })
      release('new')
      await waitFor('the refreshed value', async () => (await cache.get('k')) === 'new')
      // The late owner's release was owner-checked: the next holder's lease is intact.
      expect(await conn.send(['GET', leaseKey], { key: leaseKey })).toBe('next-holder')
      await conn.send(['DEL', leaseKey], { key: leaseKey })
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('the lease is released after a refresh, so the next stale read refreshes again', async () => {
    const clock = { t: Date.now() }
    const cache = new TieredCache<string>(conn, {
      namespace: uniquePrefix('rel'),
      coherence: 'none',
      grace: '1h',
      now: () => clock.t,
    })
    try {
      await cache.set('k', 'v0', { ttl: '1s' })
      const leaseKey = cache.redisKey('k').replace(':v:{', ':tr:{')
      for (const next of ['v1', 'v2']) {
        clock.t += 1_500
        await cache.getOrSet('k', () => next, { ttl: '1s' })
        await waitFor(`refreshed to ${next}`, async () => (await cache.get('k')) === next)
        await waitFor(
          'lease released',
          async () => (await conn.send(['EXISTS', leaseKey], { key: leaseKey })) === 0,
        )
      }
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
