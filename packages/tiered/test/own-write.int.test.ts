import { randomBytes } from 'node:crypto'
import { CacheError, type Connection, connect } from '@cache/client'
import { type Codec, defaultCodec } from '@cache/core'
import { type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { createClient } from '@redis/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TieredCache } from '../src/index.js'

/**
 * Own writes on the NOLOOP tracker and the one-round-trip getOrSet miss, on a server of their own (the tests
 * flush its scripts and freeze it).
 */
describe('own writes on the tracker, getOrSet misses in two round trips', () => {
  let server: StandaloneTopology
  let conn: Connection
  let other: Connection
  const opened: Array<TieredCache<unknown>> = []

  beforeAll(async () => {
    server = await startStandalone()
    const options = {
      url: server.url,
      namespace: 'own',
      commandTimeout: '300ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
    } as const
    ;[conn, other] = await Promise.all([connect(options), connect(options)])
    conn.on('error', () => {})
    other.on('error', () => {})
  })
  afterAll(async () => {
    for (const c of opened) await c.close()
    await Promise.all([conn?.close(), other?.close()])
    await server?.stop()
  })

  const open = async (c: Connection, namespace: string, options: Record<string, unknown> = {}) => {
    const cache = new TieredCache<unknown>(c, { namespace, ...options })
    opened.push(cache)
    await cache.ready
    return cache
  }

  it('after SCRIPT FLUSH, a tagged own write still lands in its tag index (EVALSHA falls back to EVAL)', async () => {
    const a = await open(conn, 'flush')
    const b = await open(other, 'flush')
    await a.set('warm', 1, { tags: ['t'] })
    await server.master.command(['SCRIPT', 'FLUSH'])
    await a.set('k', 1, { tags: ['t'] })
    expect(a.cachedLocally('k')).toBe(true)
    // A getOrSet miss after the flush: the lease pipeline falls back the same way.
    expect(await a.getOrSet('g', () => 'v', { tags: ['t'] })).toBe('v')
    expect(a.cachedLocally('g')).toBe(true)
    expect(await b.invalidateTags(['t'])).toBe(3)
    await waitFor('k and g evicted from A', () => !a.cachedLocally('k') && !a.cachedLocally('g'), {
      timeoutMs: 5000,
    })
    expect(await a.get('k')).toBeUndefined()
  })

  it('a getOrSet miss: one factory call, the value kept in L1, the lease released for the next miss', async () => {
    const a = await open(conn, 'miss')
    const b = await open(other, 'miss')
    let calls = 0
    const factory = async () => {
      calls++
      return { n: calls }
    }
    const [x, y] = await Promise.all([a.getOrSet('k', factory), b.getOrSet('k', factory)])
    expect(x).toEqual({ n: 1 })
    expect(y).toEqual({ n: 1 })
    expect(calls).toBe(1)
    expect(a.cachedLocally('k') || b.cachedLocally('k')).toBe(true)
    const lease = await server.master.command(['EXISTS', `own:miss:l:{k}`])
    expect(lease).toBe(0)
    // A failing factory releases the lease with the error notification: the next call computes at once.
    await expect(
      a.getOrSet('bad', () => {
        throw new TypeError('boom')
      }),
    ).rejects.toThrow('boom')
    expect(await b.getOrSet('bad', () => 'ok')).toBe('ok')
    // A factory returning undefined caches nothing.
    await expect(a.getOrSet('u', () => undefined as never)).rejects.toMatchObject({ code: 'E_ENCODE' })
    expect(await server.master.command(['EXISTS', `own:miss:l:{u}`])).toBe(0)
  })

  it('encode and decode failures keep their typed errors on the tracker path', async () => {
    // A codec (say, an encrypting one) that refuses some values: a plain Error, its own E_ENCODE, another code.
    const picky: Codec = {
      encode: (value, ctx) => {
        const v = (value as unknown[])[0]
        if (v === 'refuse') throw new RangeError('not this one')
        if (v === 'coded') throw new CacheError('E_ENCODE', '[codec] cannot encode: refused')
        if (v === 'keyless') throw new CacheError('E_UNSUPPORTED', '[codec] no key for this value')
        return defaultCodec.encode(value, ctx)
      },
      decode: (raw, ctx) => {
        const text = Buffer.from(raw).toString()
        if (text === 'plain-fail') throw new SyntaxError('bad bytes')
        if (text === 'keyless') throw new CacheError('E_UNSUPPORTED', '[codec] no key to decrypt')
        return defaultCodec.decode(raw, ctx)
      },
      format: defaultCodec.format,
    }
    const a = await open(conn, 'codec', { codec: picky })
    await expect(a.set('k', 'refuse')).rejects.toMatchObject({ code: 'E_ENCODE', details: { key: 'k' } })
    await expect(a.set('k', 'coded')).rejects.toMatchObject({ code: 'E_ENCODE', details: { key: 'k' } })
    await expect(a.set('k', 'keyless')).rejects.toMatchObject({ code: 'E_UNSUPPORTED' })
    expect(await a.has('k')).toBe(false)
    // Random bytes as base64: past the 16 MiB default even after compression.
    await expect(a.set('big', randomBytes(13 * 1024 * 1024).toString('base64'))).rejects.toMatchObject({
      code: 'E_VALUE_TOO_LARGE',
    })
    // Corrupt bytes in L2: the getOrSet read rejects with E_DECODE and calls no factory.
    const plain = createClient({ url: server.url })
    await plain.connect()
    try {
      await plain.set(a.redisKey('bad'), 'not a value', { PX: 60_000 })
      let called = false
      await expect(
        a.getOrSet('bad', () => {
          called = true
          return 1
        }),
      ).rejects.toMatchObject({ code: 'E_DECODE' })
      expect(called).toBe(false)
      // The codec's own typed error keeps its code; anything else it throws is E_DECODE (no payload quoted).
      await plain.set(a.redisKey('p'), 'plain-fail', { PX: 60_000 })
      await expect(a.getOrSet('p', () => 1)).rejects.toMatchObject({ code: 'E_DECODE' })
      await plain.set(a.redisKey('q'), 'keyless', { PX: 60_000 })
      await expect(a.getOrSet('q', () => 1)).rejects.toMatchObject({ code: 'E_UNSUPPORTED' })
    } finally {
      await plain.close()
    }
  })

  it('a frozen server: the tracker write times out, the write falls back to fail-safe and is replayed', async () => {
    const a = await open(conn, 'frozen', { offlineRetryInterval: '100ms' })
    await a.set('k', 1)
    server.master.pause()
    try {
      // Answered within the timeouts (tracker, then the L2 path), kept in L1 and queued.
      await a.set('k', 2)
      expect(await a.get('k')).toBe(2)
    } finally {
      server.master.resume()
    }
    const check = await open(other, 'frozen', { coherence: 'none' })
    await waitFor('replayed', async () => (await check.getWithTtl('k'))?.value === 2, { timeoutMs: 10_000 })
  })

  it('Redis freezing while the factory runs: a typed error, never a hang; the next call computes again', async () => {
    const a = await open(conn, 'frozen-miss')
    // The value cannot be stored (nor the lease released): the caller is told, within the timeouts.
    await expect(
      a.getOrSet(
        'k',
        () => {
          server.master.pause()
          return 'computed'
        },
        { lease: '500ms' },
      ),
    ).rejects.toSatisfy(
      (err) => err instanceof CacheError && ['E_TIMEOUT', 'E_UNAVAILABLE'].includes(err.code),
    )
    server.master.resume()
    // A factory failing while Redis is frozen: its own error, not the release's.
    await expect(
      a.getOrSet(
        'f',
        () => {
          server.master.pause()
          throw new RangeError('factory failed')
        },
        { lease: '500ms' },
      ),
    ).rejects.toThrow('factory failed')
    server.master.resume()
    // The leases the frozen calls could not release expire: the next calls compute and store.
    expect(await a.getOrSet('k', () => 'again', { lease: '500ms' })).toBe('again')
    expect(await a.getOrSet('f', () => 'again', { lease: '500ms' })).toBe('again')
  })
})
