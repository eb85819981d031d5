import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { TieredCache } from '@cache/tiered'
import { codeOf, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { encryptionCodec, Keyring } from '../src/index.js'

const { standalone, cluster } = inject('redis')
const conns: Connection[] = []
const closers: Array<{ close(): Promise<void> }> = []
const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
const codec = encryptionCodec(keyring)
const SECRET = 'alice-secret-4111-1111'

beforeAll(async () => {
  conns.push(
    await connect({ url: standalone.url, namespace: uniquePrefix('sec') }),
    await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('sec') }),
  )
})
afterAll(async () => {
  for (const c of closers) await c.close().catch(() => {})
  await Promise.all(conns.map((c) => c.close()))
})

describe.each(['standalone', 'cluster'])('encryptionCodec in RedisCache on %s', (topology) => {
  const conn = () => conns[topology === 'standalone' ? 0 : 1]!

  it('stores ciphertext bound to the Redis key; a copied value is refused with E_DECRYPT', async () => {
    const cache = new RedisCache(conn(), { namespace: uniquePrefix('pii'), codec })
    closers.push(cache)
    await cache.set('{u}:a', { card: SECRET }, { ttl: '1m' })
    expect(await cache.get('{u}:a')).toEqual({ card: SECRET })
    const bytes = (await conn().send(['GET', cache.redisKey('{u}:a')], {
      key: cache.redisKey('{u}:a'),
      buffers: true,
    })) as Buffer
    expect(bytes[0]).toBe(0xce)
    expect(bytes.toString('latin1')).not.toContain(SECRET)
    // An attacker with write access swaps the value into another user's key .
    await conn().send(['SET', cache.redisKey('{u}:b'), bytes, 'PX', '60000'], {
      key: cache.redisKey('{u}:b'),
    })
    expect(await codeOf(cache.get('{u}:b'))).toBe('E_DECRYPT')
    await cache.mset(
      [
        { key: '{u}:c', value: 1 },
        { key: '{u}:d', value: 2 },
      ],
      { ttl: '1m' },
    )
    expect(await cache.mget(['{u}:c', '{u}:d', '{u}:none'])).toEqual([1, 2, undefined])
  })

  it('encrypts the tiered cache L2 and decrypts into L1 of another process', async () => {
    const namespace = uniquePrefix('tier')
    const writer = new TieredCache(conn(), { namespace, codec, coherence: 'none' })
    const reader = new TieredCache(conn(), { namespace, codec, coherence: 'none' })
    const plain = new RedisCache(conn(), { namespace })
    closers.push(writer, reader, plain)
    await writer.set('x', { card: SECRET }, { ttl: '1m' })
    expect(await reader.get('x')).toEqual({ card: SECRET })
    // The L2 bytes are ciphertext: a cache without the codec cannot read them.
    expect(await codeOf(plain.get('x'))).toBe('E_DECODE')
  })

  it('a restricted tiered cache needs the codec, keeps nothing in L1 and stores ciphertext in L2', async () => {
    const namespace = uniquePrefix('restricted')
    expect(
      await codeOf(
        Promise.resolve().then(() => new TieredCache(conn(), { namespace, classification: 'restricted' })),
      ),
    ).toBe('E_UNENCRYPTED')
    const cache = new TieredCache(conn(), {
      namespace,
      codec,
      classification: 'restricted',
      coherence: 'none',
    })
    const plain = new RedisCache(conn(), { namespace })
    closers.push(cache, plain)
    await cache.set('{u}:card', { card: SECRET }, { ttl: '1m' })
    expect(await cache.getOrSet('{u}:loaded', () => ({ card: SECRET }))).toEqual({ card: SECRET })
    expect(await cache.get('{u}:card')).toEqual({ card: SECRET })
    expect(await cache.get('{u}:card')).toEqual({ card: SECRET })
    expect(cache.tierStats().l1).toMatchObject({ entries: 0, hits: 0 })
    const rk = plain.redisKey('{u}:card')
    const bytes = (await conn().send(['GET', rk], { key: rk, buffers: true })) as Buffer
    expect(bytes[0]).toBe(0xce)
    expect(bytes.toString('latin1')).not.toContain(SECRET)
  })
})
