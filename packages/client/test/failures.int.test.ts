import { codeOf, type StandaloneTopology, startStandalone, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BreakerState, type Connection, connect } from '../src/index.js'

describe('server killed, then restarted', () => {
  let server: StandaloneTopology
  let conn: Connection
  const breaker: BreakerState[] = []
  const seen = { ready: 0, reconnecting: 0, error: 0 }

  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({
      url: server.url,
      commandTimeout: '500ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
      breaker: { failureThreshold: 2, resetTimeout: '200ms' },
    })
    conn.on('breaker', (s: BreakerState) => breaker.push(s))
    conn.on('ready', () => seen.ready++)
    conn.on('reconnecting', () => seen.reconnecting++)
    conn.on('error', () => seen.error++)
  })
  afterAll(async () => {
    await conn.close()
    await server.stop()
  })

  it('fails fast with E_UNAVAILABLE while down and recovers by itself', async () => {
    await conn.redis.set('before', '1')
    await server.master.kill()
    // The breaker opens as soon as a reconnect attempt fails; from then on, commands fail without waiting.
    await waitFor('breaker open', () => conn.breakerState === 'open', { timeoutMs: 5000 })
    const started = performance.now()
    const codes = await Promise.all(Array.from({ length: 50 }, () => codeOf(conn.redis.get('before'))))
    const elapsed = performance.now() - started
    expect(new Set(codes)).toEqual(new Set(['E_UNAVAILABLE']))
    // 50 commands against a dead server, all rejected without a network round trip or a timeout.
    expect(elapsed).toBeLessThan(500) // less than one command timeout
    expect(seen.reconnecting).toBeGreaterThan(0)

    await server.master.restart()
    await waitFor(
      'commands succeed again',
      async () => (await codeOf(conn.redis.set('after', '2'))) === 'ok',
      {
        timeoutMs: 10_000,
      },
    )
    expect(conn.breakerState).toBe('closed')
    expect(await conn.redis.get('after')).toBe('2')
    expect(breaker).toContain('open')
    expect(breaker.at(-1)).toBe('closed')
    expect(seen.ready).toBeGreaterThan(0)
    expect((await conn.health()).ok).toBe(true)
  })

  it('runs a script again after the restart emptied the script cache (NOSCRIPT fallback)', async () => {
    const echo = conn.defineScript<string>('test-echo', 'return ARGV[1]', { keys: 0 })
    expect(await echo([], ['a'])).toBe('a')
    await server.master.restart()
    await waitFor('reconnected', async () => (await codeOf(conn.redis.ping())) === 'ok', {
      timeoutMs: 10_000,
    })
    expect(await echo([], ['b'])).toBe('b')
  })
})

describe('server paused (SIGSTOP), then resumed', () => {
  let server: StandaloneTopology
  let conn: Connection

  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({
      url: server.url,
      commandTimeout: '200ms',
      breaker: { failureThreshold: 2, resetTimeout: '300ms' },
    })
  })
  afterAll(async () => {
    server.master.resume()
    await conn.close()
    await server.stop()
  })

  it('times out with E_TIMEOUT, opens the breaker, fails fast, and a probe closes it after resume', async () => {
    server.master.pause()
    expect(await codeOf(conn.redis.ping())).toBe('E_TIMEOUT')
    expect(await codeOf(conn.redis.ping())).toBe('E_TIMEOUT')
    expect(conn.breakerState).toBe('open')
    const started = performance.now()
    expect(await codeOf(conn.redis.ping())).toBe('E_UNAVAILABLE')
    expect(performance.now() - started).toBeLessThan(200) // rejected without waiting out a command timeout
    const report = await conn.health()
    expect(report.ok).toBe(false)
    expect(report.breaker).toBe('open')

    server.master.resume()
    await waitFor('probe closes the breaker', async () => (await codeOf(conn.redis.ping())) === 'ok', {
      timeoutMs: 5000,
      intervalMs: 100,
    })
    expect(conn.breakerState).toBe('closed')
  })
})

describe('pub/sub across a server restart', () => {
  let server: StandaloneTopology
  let conn: Connection

  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({ url: server.url, reconnect: { initialDelay: '20ms', maxDelay: '200ms' } })
  })
  afterAll(async () => {
    await conn.close()
    await server.stop()
  })

  it('resubscribes after reconnect and receives new messages', async () => {
    const sub = await conn.subscriber()
    const got: string[] = []
    let resubscribed = 0
    sub.on('resubscribed', () => resubscribed++)
    sub.on('error', () => {})
    await sub.subscribe('events', (m) => got.push(m))
    await sub.pSubscribe('ev*', (m) => got.push(`p:${m}`))
    await conn.redis.publish('events', 'before')
    await expect.poll(() => got.length).toBe(2)

    await server.master.restart()
    await waitFor('subscriber resubscribed', () => resubscribed > 0, { timeoutMs: 10_000 })
    // The server's channel list is the proof that the subscriptions were re-sent.
    await waitFor('subscription visible on the server', async () => {
      const channels = await conn.redis.pubSubChannels()
      return channels.includes('events')
    })
    await conn.redis.publish('events', 'after')
    await expect.poll(() => got).toEqual(expect.arrayContaining(['before', 'p:before', 'after', 'p:after']))
  })
})

describe('offline queue', () => {
  it('never rejects a connected client for queue length: 10,000 concurrent sends all succeed', async () => {
    const server = await startStandalone()
    // The default bound (1,000) applies to commands queued while disconnected, not to a burst in flight.
    const conn = await connect({ url: server.url, namespace: uniquePrefix('burst') })
    try {
      const key = conn.keys.key('n')
      const replies = await Promise.all(
        Array.from({ length: 10_000 }, () => conn.send<number>(['INCR', key], { key })),
      )
      expect(replies.length).toBe(10_000)
      expect(Math.max(...replies)).toBe(10_000)
      expect(await conn.redis.get(key)).toBe('10000')
    } finally {
      await conn.close()
      await server.stop()
    }
  })

  it('while disconnected holds maxLength commands, rejects the rest at once, flushes in order after the restart', async () => {
    const server = await startStandalone()
    const maxLength = 50
    const conn = await connect({
      url: server.url,
      namespace: uniquePrefix('offline'),
      offlineQueue: { maxLength },
      breaker: false,
      commandTimeout: 0,
      reconnect: { initialDelay: '20ms', maxDelay: '100ms' },
    })
    conn.on('error', () => {})
    try {
      const list = conn.keys.key('order')
      await server.master.kill()
      await waitFor('client notices', () => !(conn.unguarded as { isReady: boolean }).isReady)
      const sends = Array.from({ length: maxLength + 7 }, (_, i) =>
        conn.send<number>(['RPUSH', list, String(i)], { key: list }),
      )
      const held = sends.slice(0, maxLength)
      const over = await Promise.allSettled(sends.slice(maxLength))
      // Settled while the server is still down: rejected without waiting for it.
      expect(over.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code)).toEqual(
        Array(7).fill('E_UNAVAILABLE'),
      )
      await server.master.restart()
      const lengths = await Promise.all(held)
      expect(lengths).toEqual(held.map((_, i) => i + 1))
      expect(await conn.redis.lRange(list, 0, -1)).toEqual(held.map((_, i) => String(i)))
    } finally {
      await conn.close()
      await server.stop()
    }
  })

  it('rejects at once when disabled and the server is gone', async () => {
    const server = await startStandalone()
    const conn = await connect({
      url: server.url,
      offlineQueue: false,
      breaker: false,
      reconnect: { initialDelay: '50ms', maxDelay: '100ms' },
    })
    conn.on('error', () => {})
    try {
      await server.master.kill()
      await waitFor('client notices', () => !(conn.unguarded as { isReady: boolean }).isReady)
      const started = performance.now()
      expect(await codeOf(conn.redis.get('x'))).toBe('E_UNAVAILABLE')
      expect(performance.now() - started).toBeLessThan(100)
    } finally {
      await conn.close()
      await server.stop()
    }
  })
})

describe('a blocked event loop', () => {
  it('does not turn replies that arrived during the block into timeouts', async () => {
    const server = await startStandalone()
    const conn = await connect({ url: server.url, commandTimeout: '100ms' })
    try {
      await conn.redis.set('k', 'v')
      // Sent before the block; the reply arrives while the loop is blocked for 3 timeouts.
      const before = conn.redis.get('k')
      const end = Date.now() + 300
      while (Date.now() < end) {}
      // Sent right after the block.
      const after = conn.redis.get('k')
      expect(await before).toBe('v')
      expect(await after).toBe('v')
    } finally {
      await conn.close()
      await server.stop()
    }
  })
})
