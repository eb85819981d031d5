import { type Connection, connect, hashSlot } from '@cache/client'
import { type ClusterTopology, startCluster } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventStream, PubSub } from '../src/index.js'
import { until } from './helpers.js'

/** Retries an operation until the cluster serves it again. */
async function eventually<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let result: T | undefined
  await until(
    what,
    async () => {
      try {
        result = await fn()
        return true
      } catch {
        return false
      }
    },
    20_000,
  )
  return result as T
}

describe('Cluster failover of the shard that holds a stream', () => {
  let cluster: ClusterTopology
  let conn: Connection
  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 })
    conn = await connect({
      cluster: { nodes: cluster.nodes.map((n) => `127.0.0.1:${n.port}`) },
      namespace: 'failover',
      commandTimeout: 500,
      reconnect: { initialDelay: 20, maxDelay: 200 },
      breaker: { failureThreshold: 3, resetTimeout: 100 },
    })
  })
  afterAll(async () => {
    await conn?.close()
    await cluster?.stop()
  })

  it('keeps consuming and keeps pub/sub subscriptions after nodes are killed and a replica promoted', async () => {
    const bus = new PubSub(conn)
    const heard: unknown[] = []
    await bus.subscribe('after', (m) => void heard.push(m))
    // Kill the node that carries the pub/sub connection too (node-redis picks it at random), so the test
    // also proves the subscription moves to a live node.
    const sub = await conn.subscriber()
    const pubPort = Number(
      String((sub.client as unknown as { pubSubNode?: { address: string } }).pubSubNode?.address).split(
        ':',
      )[1],
    )
    const pubNode = cluster.nodes.find((n) => n.port === pubPort)!
    const masters = await cluster.masters()
    let victim = masters.find((m) => m.port === pubPort)
    if (!victim) {
      const ownMaster = (
        await Promise.all(
          masters.map(async (m) => ((await cluster.replicasOf(m)).includes(pubNode) ? m : undefined)),
        )
      ).find(Boolean)
      victim = masters.find((m) => m !== ownMaster)!
    }
    let stream: EventStream | undefined
    for (let i = 0; !stream; i++) {
      const candidate = new EventStream(conn, `jobs-${i}`)
      if ((await cluster.masterForSlot(hashSlot(candidate.key))).port === victim.port) stream = candidate
    }
    const seen = new Set<number>()
    const consumer = stream.consume({ group: 'g', blockMs: 100, claimIdleMs: 500 }, (n) => {
      seen.add(n as number)
    })
    consumer.on('error', () => {})
    await stream.appendMany([1, 2, 3])
    await until('before failover', () => seen.size === 3)

    await Promise.all([victim.kill(), pubNode.kill()])
    await cluster.waitHealthy(30_000)

    // Entries appended after the failover are consumed by the same consumer (new reader, new topology).
    const target = stream
    await eventually('append after failover', () => target.append(4))
    await until('consumed after failover', () => seen.has(4), 20_000)
    await eventually('publish after failover', async () => {
      await bus.publish('after', 'x')
      if (heard.length === 0) throw new Error('not yet')
    })
    await consumer.close()
    await bus.close()
    expect([...seen].sort()).toEqual([1, 2, 3, 4])
  })
})
