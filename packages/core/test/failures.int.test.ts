import { type Connection, connect } from '@cache/client'
import { codeOf, type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisCache } from '../src/redis-cache.js'

describe('RedisCache when its server is killed, paused and restarted', () => {
  let server: StandaloneTopology
  let conn: Connection
  let cache: RedisCache<string>

  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({
      url: server.url,
      commandTimeout: '300ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
      breaker: { failureThreshold: 2, resetTimeout: '200ms' },
    })
    conn.on('error', () => {})
    cache = new RedisCache<string>(conn, { namespace: 'fail' })
  })
  afterAll(async () => {
    await cache?.close()
    await conn?.close()
    await server?.stop()
  })

  it('fails fast with E_UNAVAILABLE while the server is down (no hang) and recovers after a restart', async () => {
    await cache.set('k', 'before')
    await server.master.kill()
    await waitFor('breaker open', () => conn.breakerState === 'open', { timeoutMs: 5000 })
    const ops = [
      () => cache.get('k'),
      () => cache.set('k', 'x'),
      () => cache.mget(['k', 'j']),
      () => cache.getOrSet('k', () => 'computed'),
      () => cache.invalidateTags(['t']),
      () => cache.deletePattern('*'),
      () => cache.has('k'),
    ]
    const codes = await Promise.all(Array.from({ length: 10 }, () => ops.map((op) => codeOf(op()))).flat())
    expect(new Set(codes)).toEqual(new Set(['E_UNAVAILABLE']))
    expect(cache.stats().errors).toBeGreaterThanOrEqual(codes.length - 10)

    await server.master.restart()
    await waitFor('cache works again', async () => (await codeOf(cache.set('k', 'after'))) === 'ok', {
      timeoutMs: 10_000,
    })
    expect(await cache.get('k')).toBe('after')
    expect(await cache.getOrSet('new', () => 'fresh')).toBe('fresh')
  })

  it('reads right after the event loop was blocked longer than the command timeout do not time out', async () => {
    await cache.set('busy', 'v')
    const end = Date.now() + 700 // commandTimeout is 300ms
    while (Date.now() < end) {}
    expect(await cache.get('busy')).toBe('v')
  })

  it('a paused server makes reads reject within the command timeout instead of hanging', async () => {
    await cache.set('p', 'v')
    server.master.pause()
    try {
      const started = performance.now()
      const codes = await Promise.all(Array.from({ length: 5 }, () => codeOf(cache.get('p'))))
      expect(codes.every((c) => c === 'E_TIMEOUT' || c === 'E_UNAVAILABLE')).toBe(true)
      expect(performance.now() - started).toBeLessThan(5_000)
    } finally {
      server.master.resume()
    }
    await waitFor('reads work again', async () => (await codeOf(cache.get('p'))) === 'ok', {
      timeoutMs: 10_000,
    })
    expect(await cache.get('p')).toBe('v')
  })
})
