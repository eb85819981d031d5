import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { codeOf, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  cacheValuePattern,
  encryptionCodec,
  Keyring,
  KeyUsageCounter,
  type KeyUsageEvent,
  type RewrapProgress,
  rewrap,
} from '../src/index.js'

const { standalone, cluster } = inject('redis')
const conns: Connection[] = []
const closers: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  conns.push(
    await connect({ url: standalone.url, namespace: uniquePrefix('rot') }),
    await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('rot') }),
  )
})
afterAll(async () => {
  for (const c of closers) await c.close().catch(() => {})
  await Promise.all(conns.map((c) => c.close()))
})

describe.each(['standalone', 'cluster'])('rotation on %s', (topology) => {
  const conn = () => conns[topology === 'standalone' ? 0 : 1]!

  it('rewrap moves every value to the new primary (resumable), then the old key can be removed', async () => {
    const keyring = new Keyring({ keys: [{ id: 'old', key: randomBytes(32), status: 'primary' }] })
    const codec = encryptionCodec(keyring)
    const cache = new RedisCache(conn(), { namespace: uniquePrefix('rw'), codec })
    closers.push(cache)
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`)
    await cache.mset(
      keys.map((key, i) => ({ key, value: { i } })),
      { ttl: '10m' },
    )
    keyring.add({ id: 'new', key: randomBytes(32) }).promote('new')
    await cache.set('fresh', 'already new', { ttl: '10m' })
    const match = cacheValuePattern(cache)
    expect(await keyring.usage(conn(), { match })).toEqual(
      new Map([
        ['old', 60],
        ['new', 1],
      ]),
    )

    // Interrupted after the first batch, then resumed from its cursor.
    const stop = new AbortController()
    const seen: RewrapProgress[] = []
    const first = await rewrap(conn(), codec, {
      match,
      count: 10,
      signal: stop.signal,
      onProgress: (p) => {
        seen.push(p)
        stop.abort()
      },
    })
    expect(first.cursor).not.toBe('done')
    const rest = await rewrap(conn(), codec, { match, count: 10, cursor: first.cursor })
    expect(rest.cursor).toBe('done')
    expect(first.rewrapped + rest.rewrapped).toBe(60)
    expect(seen.length).toBeGreaterThan(0)
    expect(await keyring.usage(conn(), { match })).toEqual(new Map([['new', 61]]))
    expect(await cache.ttl('k1')).toBeGreaterThan(500_000)
    keyring.remove('old')
    expect(await cache.mget(keys)).toEqual(keys.map((_, i) => ({ i })))
    await expect(rewrap(conn(), codec, { match, cursor: 'nope' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    expect(() => cacheValuePattern({ redisKey: (k: string) => `${k}!` })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    )
    await expect(keyring.usage(conn(), { match: '' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await expect(rewrap(conn(), codec, { match: '' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
  })

  it('rewrap counts values it cannot decrypt and leaves them alone', async () => {
    const keyring = new Keyring({ keys: [{ id: 'a', key: randomBytes(32), status: 'primary' }] })
    const codec = encryptionCodec(keyring)
    const cache = new RedisCache(conn(), { namespace: uniquePrefix('rw'), codec })
    closers.push(cache)
    await cache.set('x', 1, { ttl: '1m' })
    keyring
      .add({ id: 'b', key: randomBytes(32) })
      .promote('b')
      .disable('a')
    const p = await rewrap(conn(), codec, { cache })
    expect(p).toMatchObject({ scanned: 1, failed: 1, rewrapped: 0 })
    expect(await codeOf(cache.get('x'))).toBe('E_KEY_DISABLED')
  })

  it('KeyUsageCounter counts encryptions in Redis and warns on cache:security:key-usage', async () => {
    const keyring = new Keyring({ keys: [{ id: 'u', key: randomBytes(32), status: 'primary' }] })
    const codec = encryptionCodec(keyring)
    const events: KeyUsageEvent[] = []
    const listener = (e: unknown) => events.push(e as KeyUsageEvent)
    diagnostics.subscribe('cache:security:key-usage', listener)
    const namespace = uniquePrefix('ku')
    const a = new KeyUsageCounter(conn(), codec, { namespace, warnAt: 10 })
    const b = new KeyUsageCounter(conn(), codec, { namespace, warnAt: 10 })
    try {
      for (let i = 0; i < 7; i++) codec.encode(i)
      await a.flush()
      expect(events).toEqual([])
      for (let i = 0; i < 7; i++) codec.encode(i)
      await b.flush()
      expect((await a.counts()).get('u')).toBe(14)
      const mine = events.filter((e) => e.keyId === 'u')
      expect(mine).toHaveLength(1)
      expect(mine[0]).toMatchObject({ count: 14, budget: 2 ** 32 })
      expect(JSON.stringify(events)).not.toMatch(/key":/)
    } finally {
      diagnostics.unsubscribe('cache:security:key-usage', listener)
      await a.close()
      await a.close()
      await b[Symbol.asyncDispose]()
    }
    expect(() => new KeyUsageCounter(conn(), codec, { warnAt: 0 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
  })
})
