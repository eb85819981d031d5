import { type Connection, connect } from '@cache/client'
import { defaultCodec, RedisCache } from '@cache/core'
import { uniquePrefix, waitFor } from '@cache/tools'
import { createClient, createCluster } from '@redis/client'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type CoherenceMode, TieredCache } from '../src/index.js'
import { type Peer, spawnPeer } from './fixtures/peers.js'

const { standalone, cluster, sentinel } = inject('redis')
const root = uniquePrefix('tiered-co')
let single: Connection
let sharded: Connection
const opened: Array<TieredCache<unknown>> = []
const peers: Peer[] = []

beforeAll(async () => {
  ;[single, sharded] = await Promise.all([
    connect({ url: standalone.url, namespace: root }),
    connect({ cluster: { nodes: cluster.nodes }, namespace: root }),
  ])
})
afterAll(async () => {
  for (const p of peers) p.kill()
  for (const c of opened) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await Promise.all([single?.close(), sharded?.close()])
})

async function setup(conn: Connection, coherence: CoherenceMode, where: Record<string, unknown>) {
  const namespace = uniquePrefix('ns')
  const local = new TieredCache(conn, { namespace, coherence })
  opened.push(local)
  const peer = spawnPeer({ ...where, root, namespace, coherence })
  peers.push(peer)
  await Promise.all([local.ready, peer.ready])
  return { local, peer }
}

/** Reads `key` in the peer until it serves it from L1. */
async function warmPeer(peer: Peer, key: string, expected: unknown) {
  expect((await peer.send('get', key)).value).toEqual(expected)
  // A read that overlaps an invalidation of the key is (rightly) not kept: read again until L1 has it.
  await waitFor(
    `${key} in the peer's L1`,
    async () => (await peer.send('get', key)).value !== undefined && (await peer.send('local', key)).local,
    { timeoutMs: 5000, intervalMs: 5 },
  )
  expect((await peer.send('get', key)).value).toEqual(expected)
}

const evicted = (peer: Peer, key: string) =>
  waitFor(`eviction of ${key} in the peer`, async () => (await peer.send('local', key)).local === false, {
    timeoutMs: 5000,
    intervalMs: 10,
  })

describe('L1 coherence across processes', () => {
  it('tracking, standalone: writes through the library and by a plain node-redis client evict the other process', async () => {
    const { local, peer } = await setup(single, 'tracking', { url: standalone.url })
    const plain = createClient({ url: standalone.url })
    await plain.connect()
    try {
      await local.set('k', { v: 1 })
      await warmPeer(peer, 'k', { v: 1 })
      await local.set('k', { v: 2 })
      await evicted(peer, 'k')
      await warmPeer(peer, 'k', { v: 2 })

      // A plain client outside the library deletes the key.
      await plain.del(local.redisKey('k'))
      await evicted(peer, 'k')
      expect((await peer.send('get', 'k')).value).toBeNull()

      // A plain client writes a value (encoded with the shared codec, no envelope).
      await local.set('k', 'mine')
      await warmPeer(peer, 'k', 'mine')
      await plain.set(local.redisKey('k'), defaultCodec.encode('outside'), { PX: 60_000 })
      await evicted(peer, 'k')
      expect((await peer.send('get', 'k')).value).toBe('outside')

      // And the peer's writes evict this process's L1 too.
      await local.get('k')
      expect(local.cachedLocally('k')).toBe(true)
      await peer.send('set', 'k', 'from peer')
      await waitFor('local eviction', () => !local.cachedLocally('k'), { timeoutMs: 5000, intervalMs: 5 })
      expect(await local.get('k')).toBe('from peer')
    } finally {
      await plain.close()
    }
  })

  it('tracking, Cluster: writes on every master (library and plain cluster client) evict the other process', async () => {
    const { local, peer } = await setup(sharded, 'tracking', { nodes: cluster.nodes })
    const plain = createCluster({ rootNodes: cluster.nodes.map((n) => ({ socket: n })) })
    await plain.connect()
    try {
      const keys = Array.from({ length: 12 }, (_, i) => `user:${i}`)
      for (const k of keys) await local.set(k, 1)
      for (const k of keys) await warmPeer(peer, k, 1)
      // Keys spread over the three masters' slots.
      for (const k of keys.slice(0, 6)) await local.set(k, 2)
      for (const k of keys.slice(6)) await plain.del(local.redisKey(k))
      for (const k of keys) await evicted(peer, k)
      for (const k of keys.slice(0, 6)) expect((await peer.send('get', k)).value).toBe(2)
      for (const k of keys.slice(6)) expect((await peer.send('get', k)).value).toBeNull()
    } finally {
      await plain.close()
    }
  })

  it('bus: writes and deletes through the library evict the other process; a clear flushes its L1', async () => {
    const { local, peer } = await setup(single, 'bus', { url: standalone.url })
    await local.set('b', 'one')
    await warmPeer(peer, 'b', 'one')
    await local.set('b', 'two')
    await evicted(peer, 'b')
    await warmPeer(peer, 'b', 'two')
    await local.delete('b')
    await evicted(peer, 'b')
    expect((await peer.send('get', 'b')).value).toBeNull()
    // The writer keeps its own write in L1 (the bus skips its own messages).
    await local.set('c', 'x')
    expect(local.cachedLocally('c')).toBe(true)
    await warmPeer(peer, 'c', 'x')
    await local.clear()
    await evicted(peer, 'c')
    expect((await peer.send('stats')).value).toMatchObject({ coherent: true })
  })

  it('tracking, Sentinel: a write through one connection evicts the L1 of another', async () => {
    const namespace = uniquePrefix('sen')
    const conns = await Promise.all(
      [0, 1].map(() =>
        connect({ sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, namespace: root }),
      ),
    )
    const [a, b] = conns.map((c) => new TieredCache<unknown>(c, { namespace })) as [
      TieredCache<unknown>,
      TieredCache<unknown>,
    ]
    try {
      await Promise.all([a.ready, b.ready])
      await a.set('s', 1)
      await waitFor('b holds s in L1', async () => (await b.get('s')) === 1 && b.cachedLocally('s'), {
        timeoutMs: 5000,
        intervalMs: 5,
      })
      await a.set('s', 2)
      await waitFor('eviction in b', () => !b.cachedLocally('s'), { timeoutMs: 5000, intervalMs: 5 })
      expect(await b.get('s')).toBe(2)
    } finally {
      await a.clear()
      await Promise.all([a.close(), b.close()])
      await Promise.all(conns.map((c) => c.close()))
    }
  })

  it('an invalidation racing with a read never leaves the old value in L1', async () => {
    const { local } = await setup(single, 'tracking', { url: standalone.url })
    const writer = new TieredCache(single, { namespace: local.namespace, coherence: 'none' })
    opened.push(writer)
    // Many rounds of read-while-write: after each write settles and its invalidation lands, L1 must not hold
    // an older value.
    for (let i = 0; i < 30; i++) {
      await Promise.all([local.get('r'), writer.set('r', i), local.get('r')])
      await waitFor('L1 coherent', async () => !local.cachedLocally('r') || (await local.get('r')) === i, {
        timeoutMs: 2000,
        intervalMs: 2,
      })
      expect(await local.get('r')).toBe(i)
    }
  })

  it('under tracking, concurrent writes from two clients (and reads) never leave L1 stale', async () => {
    const { local } = await setup(single, 'tracking', { url: standalone.url })
    // Own writes go over the NOLOOP tracker: kept in L1, and no echo evicts them.
    await local.set('own', 1)
    expect(local.cachedLocally('own')).toBe(true)
    await new Promise((r) => setTimeout(r, 50))
    expect(local.cachedLocally('own')).toBe(true)
    expect(await local.get('own')).toBe(1)

    const otherConn = await connect({ url: standalone.url, namespace: root })
    const writer = new TieredCache(otherConn, { namespace: local.namespace, coherence: 'none' })
    const truth = new RedisCache<[unknown, number, number]>(single, { namespace: local.namespace })
    try {
      for (let i = 0; i < 40; i++) {
        await Promise.all([local.set('w', `local-${i}`), writer.set('w', `writer-${i}`), local.get('w')])
        await waitFor(
          'L1 agrees with Redis',
          async () => (await local.get('w')) === (await truth.get('w'))?.[0],
          { timeoutMs: 3000, intervalMs: 2 },
        )
      }
    } finally {
      await writer.close()
      await truth.close()
      await otherConn.close()
    }
  })

  for (const topology of ['standalone', 'cluster'] as const) {
    it(`tracking, ${topology}: A keeps its own write; B writing the key right after evicts it from A's L1`, async () => {
      const conn = topology === 'cluster' ? sharded : single
      const namespace = uniquePrefix('own')
      const otherConn = await connect(
        topology === 'cluster'
          ? {
              cluster: { nodes: cluster.nodes.map((n) => ({ host: n.host, port: n.port })) },
              namespace: root,
            }
          : { url: standalone.url, namespace: root },
      )
      const a = new TieredCache<unknown>(conn, { namespace })
      const b = new TieredCache<unknown>(otherConn, { namespace })
      try {
        await Promise.all([a.ready, b.ready])
        const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
        for (const k of keys) {
          await a.set(k, `a-${k}`, { tags: ['t'] })
          expect(a.cachedLocally(k)).toBe(true)
          // B right after A (no pause): A's L1 must end up evicted, and then serve B's value.
          await b.set(k, `b-${k}`)
        }
        for (const k of keys) {
          await waitFor(`${k} evicted from A`, () => !a.cachedLocally(k), { timeoutMs: 5000, intervalMs: 5 })
          expect(await a.get(k)).toBe(`b-${k}`)
        }
        // Both issued at once, many times: whoever wrote last in Redis, A's L1 never keeps the other value.
        for (let i = 0; i < 30; i++) {
          await Promise.all([a.set('race', `a-${i}`), b.set('race', `b-${i}`)])
          await waitFor(
            'A agrees with Redis',
            async () => {
              const truth = await b.getWithTtl('race')
              return (await a.get('race')) === truth?.value
            },
            { timeoutMs: 3000, intervalMs: 2 },
          )
        }
        // A tag invalidation still evicts A's own (kept) writes: the tag index was written with them.
        await a.set('tagged', 1, { tags: ['t'] })
        expect(a.cachedLocally('tagged')).toBe(true)
        await b.invalidateTags(['t'])
        await waitFor('tagged evicted from A', () => !a.cachedLocally('tagged'), { timeoutMs: 5000 })
        expect(await a.get('tagged')).toBeUndefined()
      } finally {
        await a.clear()
        await Promise.all([a.close(), b.close()])
        await otherConn.close()
      }
    })
  }
})
