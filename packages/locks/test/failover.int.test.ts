import { type Connection, connect, hashSlot } from '@cache/client'
import {
  type ClusterTopology,
  type SentinelTopology,
  startCluster,
  startSentinel,
  uniquePrefix,
  waitFor,
} from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lock, LockManager } from '../src/index.js'

/**
 * Failover with `waitReplicas: 1`: the acquisition is acknowledged by the replica before it is reported, so
 * the promoted replica has the lease: the holder keeps it (extend works), other clients stay excluded, and
 * the next holder's fencing token is higher. (Without waitReplicas a failover right after acquisition can
 * lose the lease; failures.int.test.ts shows waitReplicas refusing to report a lock the replica lacks.)
 */
async function survivesFailover(conn: Connection, failover: () => Promise<unknown>): Promise<void> {
  const locks = new LockManager(conn, { retryInterval: 50 })
  const other = new LockManager(conn, { retryInterval: 50 })
  const lock = await locks.acquire('job', { ttl: '20s', waitReplicas: 1, replicaTimeout: '2s' })
  // A waiter started before the failover gets the lock after it (notification or fallback poll).
  const waiting = other.acquire('job', { ttl: '5s', waitTimeout: '40s' })
  await failover()
  await waitFor('lock readable after failover', () => locks.inspect('job').catch(() => undefined), {
    timeoutMs: 20_000,
  })
  expect((await locks.inspect('job'))?.token).toBe(lock.token)
  await waitFor('extend after failover', () => lock.extend('20s').then(() => true), { timeoutMs: 20_000 })
  expect(await locks.tryAcquire('job')).toBeNull()
  await lock.release()
  const next: Lock = await waiting
  expect(next.token).toBeGreaterThan(lock.token)
  await next.release()
}

describe('Sentinel failover (own topology)', () => {
  let topology: SentinelTopology
  let conn: Connection

  beforeAll(async () => {
    topology = await startSentinel({ replicas: 1, sentinels: 3 })
    conn = await connect({
      sentinel: {
        name: topology.name,
        sentinels: topology.sentinels.map((s) => ({ host: s.host, port: s.port })),
      },
      namespace: uniquePrefix('locks'),
      commandTimeout: '1s',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
    })
  })
  afterAll(async () => {
    await conn.close()
    await topology.stop()
  })

  it('a lock acquired with waitReplicas survives SENTINEL FAILOVER; fencing continues above it', async () => {
    await survivesFailover(conn, () => topology.failover())
  })
})

describe('Cluster failover (own topology)', () => {
  let topology: ClusterTopology
  let conn: Connection

  beforeAll(async () => {
    topology = await startCluster({ masters: 3, replicasPerMaster: 1 })
    const info = topology.info() as { nodes: Array<{ host: string; port: number }> }
    conn = await connect({
      cluster: { nodes: info.nodes },
      namespace: uniquePrefix('locks'),
      commandTimeout: '1s',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
    })
  })
  afterAll(async () => {
    await conn.close()
    await topology.stop()
  })

  it('a lock acquired with waitReplicas survives CLUSTER FAILOVER of its shard; fencing continues above it', async () => {
    const slot = hashSlot(`${conn.keys.namespace}:lock:{job}`)
    await survivesFailover(conn, async () => topology.failover(await topology.masterForSlot(slot)))
  })
})
