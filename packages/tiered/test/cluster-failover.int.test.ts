import { type Connection, connect, hashSlot } from '@cache/client'
import { type ClusterTopology, startCluster, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TieredCache } from '../src/index.js'
import { type Peer, spawnPeer } from './fixtures/peers.js'

/**
 * CLIENT TRACKING on Cluster keeps one tracking pair per master. Killing a master drops its pair: the other
 * process stops trusting L1 (nothing it holds is served as fresh), rebuilds its pairs on the promoted replica
 * and trusts L1 again; writes made after the promotion still evict its L1, for keys of the failed shard and
 * of the others.
 */
describe('tracking coherence across a Cluster master failover (own topology, two processes)', () => {
  let topo: ClusterTopology
  let conn: Connection
  let writer: TieredCache<string>
  let reader: Peer
  const root = 'cfo'

  beforeAll(async () => {
    topo = await startCluster({ masters: 3, replicasPerMaster: 1 })
    const nodes = topo.nodes.map((n) => ({ host: n.host, port: n.port }))
    conn = await connect({
      cluster: { nodes },
      namespace: root,
      commandTimeout: '500ms',
      breaker: { failureThreshold: 3, resetTimeout: '200ms' },
    })
    conn.on('error', () => {})
    writer = new TieredCache<string>(conn, { namespace: 'c', failSafe: false })
    reader = spawnPeer({ nodes, root, namespace: 'c', coherence: 'tracking' })
    await Promise.all([writer.ready, reader.ready])
  })
  afterAll(async () => {
    reader?.kill()
    await writer?.close()
    await conn?.close()
    await topo?.stop()
  })

  /** A key whose value lives on the master serving slot 0's shard (`onVictim`) or on another one. */
  async function keyOn(victimPort: number, onVictim: boolean): Promise<string> {
    for (let i = 0; ; i++) {
      const key = `k${i}`
      const port = (await topo.masterForSlot(hashSlot(writer.redisKey(key)))).port
      if ((port === victimPort) === onVictim) return key
    }
  }

  const readerHolds = (key: string, value: string, timeoutMs = 40_000) =>
    waitFor(
      `the reader holds ${key}=${value} in L1`,
      async () =>
        (await reader.send('get', key)).value === value && (await reader.send('local', key)).local === true,
      { timeoutMs, intervalMs: 50 },
    )

  const setEventually = (key: string, value: string) =>
    waitFor(
      `a write of ${key} succeeds after the failover`,
      () =>
        writer.set(key, value).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 40_000, intervalMs: 100 },
    )

  it('after a master is killed and its replica promoted, writes still evict the other process’s L1', async () => {
    const victim = await topo.masterForSlot(0)
    const hot = await keyOn(victim.port, true)
    const cold = await keyOn(victim.port, false)
    for (const key of [hot, cold]) {
      await writer.set(key, 'v1')
      await readerHolds(key, 'v1', 10_000)
    }
    // Before the failover, a write evicts the reader's copy within the tracking delay.
    await writer.set(cold, 'v1b')
    await waitFor('eviction before the failover', async () => !(await reader.send('local', cold)).local, {
      timeoutMs: 5_000,
      intervalMs: 10,
    })
    await readerHolds(cold, 'v1b', 10_000)

    await victim.kill()
    // The reader's pair to the dead master closes: it stops trusting L1 (no stale fresh reads meanwhile).
    await waitFor('the reader distrusts L1', async () => !(await reader.send('local', hot)).local, {
      timeoutMs: 10_000,
      intervalMs: 20,
    })
    await topo.waitHealthy(40_000)
    await setEventually(hot, 'v2')
    await setEventually(cold, 'v2')
    // The reader rebuilt its tracking pairs (the promoted replica included) and fills L1 again.
    await readerHolds(hot, 'v2')
    await readerHolds(cold, 'v2')

    // Writes after the promotion evict the reader's L1 copy, on the promoted shard and on the others, and the
    // next read returns the new value: no stale read beyond the tracking delay.
    for (const key of [hot, cold]) {
      await writer.set(key, 'v3')
      const started = performance.now()
      await waitFor(
        `eviction of ${key} after the failover`,
        async () => !(await reader.send('local', key)).local,
        {
          timeoutMs: 5_000,
          intervalMs: 10,
        },
      )
      expect(performance.now() - started).toBeLessThan(5_000)
      expect((await reader.send('get', key)).value).toBe('v3')
    }
    const stats = (await reader.send('stats')).value as { coherent: boolean; invalidationsReceived: number }
    expect(stats.coherent).toBe(true)
    expect(stats.invalidationsReceived).toBeGreaterThanOrEqual(3)
  })
})
