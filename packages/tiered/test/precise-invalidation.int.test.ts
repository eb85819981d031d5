import { type Connection, connect } from '@cache/client'
import { uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type CoherenceMode, TieredCache } from '../src/index.js'
import { type Peer, spawnPeer } from './fixtures/peers.js'

// Issue 19: invalidating one tenant's tag, one key with dependants or one pattern evicts exactly the
// affected L1 entries in every process, never the whole L1.
const { standalone } = inject('redis')
const root = uniquePrefix('tiered-precise')
let conn: Connection
const opened: Array<TieredCache<unknown>> = []
const peers: Peer[] = []

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: root, commandTimeout: '10s' })
})
afterAll(async () => {
  for (const p of peers) p.kill()
  for (const c of opened) {
    await c.clear().catch(() => {})
    await c.close()
  }
  await conn?.close()
})

async function setup(coherence: CoherenceMode) {
  const namespace = uniquePrefix('ns')
  const local = new TieredCache(conn, { namespace, coherence })
  opened.push(local)
  const peer = spawnPeer({ url: standalone.url, root, namespace, coherence })
  peers.push(peer)
  await Promise.all([local.ready, peer.ready])
  return { local, peer }
}

const TENANTS = 10
const PER_TENANT = 5
const keysOf = (t: number) => Array.from({ length: PER_TENANT }, (_, i) => `t${t}:contact:${i}`)
const allKeys = Array.from({ length: TENANTS }, (_, t) => keysOf(t)).flat()

/** Reads every key in both processes until each holds it in L1. */
async function warm(local: TieredCache<unknown>, peer: Peer, keys: readonly string[]) {
  for (const key of keys) {
    await waitFor(
      `${key} in both L1s`,
      async () => {
        await local.get(key)
        await peer.send('get', key)
        return local.cachedLocally(key) && (await peer.send('local', key)).local === true
      },
      { timeoutMs: 5000, intervalMs: 5 },
    )
  }
}

async function peerHolds(peer: Peer, keys: readonly string[]): Promise<string[]> {
  const held: string[] = []
  for (const key of keys) if ((await peer.send('local', key)).local === true) held.push(key)
  return held
}

describe.each(['tracking', 'bus'] as const)('precise L1 invalidation (%s, two processes)', (mode) => {
  it("invalidating tenant 3's tag evicts tenant 3's entries in both processes and no other entry", async () => {
    const { local, peer } = await setup(mode)
    for (let t = 0; t < TENANTS; t++) {
      for (const key of keysOf(t)) await local.set(key, { key }, { tags: [`tenant:${t}`] })
    }
    await warm(local, peer, allKeys)

    expect(await local.invalidateTags(['tenant:3'])).toBe(PER_TENANT)

    // This process: gone at once, everything else still in L1.
    for (const key of keysOf(3)) expect(local.cachedLocally(key)).toBe(false)
    const others = allKeys.filter((k) => !k.startsWith('t3:'))
    for (const key of others) expect(local.cachedLocally(key)).toBe(true)
    // The other process: tenant 3 evicted, every other tenant's entry untouched.
    await waitFor(
      'tenant 3 evicted in the peer',
      async () => (await peerHolds(peer, keysOf(3))).length === 0,
      {
        timeoutMs: 5000,
        intervalMs: 10,
      },
    )
    expect(await peerHolds(peer, others)).toEqual(others)
    // And the evicted keys read as misses everywhere (L2 removed them).
    expect((await peer.send('get', 't3:contact:0')).value).toBeNull()
    expect(await local.get('t3:contact:0')).toBeUndefined()
  })

  it('invalidating a key evicts its dependants at every level in both processes, and nothing else', async () => {
    const { local, peer } = await setup(mode)
    await local.set('contact:1', 'c1')
    await local.set('contact:2', 'c2')
    await local.set('list:a', ['c1'], { dependsOn: ['contact:1'] })
    await local.set('page:a', 'page of list a', { dependsOn: ['list:a'] })
    await local.set('list:b', ['c2'], { dependsOn: ['contact:2'] })
    const keys = ['contact:1', 'contact:2', 'list:a', 'page:a', 'list:b']
    await warm(local, peer, keys)

    expect(await local.invalidate('contact:1')).toBe(3)

    for (const key of ['contact:1', 'list:a', 'page:a']) expect(local.cachedLocally(key)).toBe(false)
    for (const key of ['contact:2', 'list:b']) expect(local.cachedLocally(key)).toBe(true)
    await waitFor(
      'the chain evicted in the peer',
      async () => (await peerHolds(peer, ['contact:1', 'list:a', 'page:a'])).length === 0,
      { timeoutMs: 5000, intervalMs: 10 },
    )
    expect(await peerHolds(peer, ['contact:2', 'list:b'])).toEqual(['contact:2', 'list:b'])
  })

  it('deletePattern evicts the matching keys in both processes, not the whole L1', async () => {
    const { local, peer } = await setup(mode)
    for (const key of allKeys) await local.set(key, 1)
    await warm(local, peer, allKeys)

    expect(await local.deletePattern('t7:*')).toBe(PER_TENANT)

    const others = allKeys.filter((k) => !k.startsWith('t7:'))
    for (const key of keysOf(7)) expect(local.cachedLocally(key)).toBe(false)
    for (const key of others) expect(local.cachedLocally(key)).toBe(true)
    await waitFor('t7 evicted in the peer', async () => (await peerHolds(peer, keysOf(7))).length === 0, {
      timeoutMs: 5000,
      intervalMs: 10,
    })
    expect(await peerHolds(peer, others)).toEqual(others)
  })
})
