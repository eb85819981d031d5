import { type Connection, connect, hashSlot } from '@cache/client'
import {
  type ClusterTopology,
  codeOf,
  type RedisNode,
  type SentinelTopology,
  startCluster,
  startSentinel,
  uniquePrefix,
} from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineQueue, NotReplicatedError, type TypedQueue } from '../src/index.js'

const jobs = { j: z.object({ i: z.number() }) }
type Jobs = typeof jobs
const TIMEOUT_MS = 300

interface Setup {
  conn: Connection
  /** The replicas of the master that holds queue `name`'s keys. */
  replicasOf(prefix: string): Promise<RedisNode[]>
  stop(): Promise<void>
}

async function sentinelSetup(): Promise<Setup> {
  const topo: SentinelTopology = await startSentinel()
  const info = topo.info() as { name: string; sentinels: Array<{ host: string; port: number }> }
  const conn = await connect({
    sentinel: { name: info.name, sentinels: info.sentinels },
    namespace: uniquePrefix('qdur'),
  })
  return {
    conn,
    replicasOf: async () => {
      const port = await topo.masterPort()
      return topo.dataNodes.filter((n) => n.port !== port)
    },
    stop: async () => {
      await conn.close()
      await topo.stop()
    },
  }
}

async function clusterSetup(): Promise<Setup> {
  const topo: ClusterTopology = await startCluster()
  const info = topo.info() as { nodes: Array<{ host: string; port: number }> }
  const conn = await connect({ cluster: { nodes: info.nodes }, namespace: uniquePrefix('qdur') })
  return {
    conn,
    replicasOf: async (prefix) => topo.replicasOf(await topo.masterForSlot(hashSlot(`${prefix}:x`))),
    stop: async () => {
      await conn.close()
      await topo.stop()
    },
  }
}

/** Whether `node` (a replica) holds job `id` of `q`. */
async function holds(node: RedisNode, q: TypedQueue<Jobs>, cluster: boolean, id: string): Promise<boolean> {
  const key = `${q.queue.opts.prefix}:${q.name}:${id}`
  if (!cluster) return Number(await node.command(['EXISTS', key])) === 1
  // a Cluster replica redirects key reads (MOVED) to its master; listing its slot's keys answers locally
  const keys = await node.command(['CLUSTER', 'GETKEYSINSLOT', String(hashSlot(key)), '100000'])
  return (keys as string[]).includes(key)
}

describe.each([
  ['sentinel', sentinelSetup],
  ['cluster', clusterSetup],
] as const)('durability on %s (own topology)', (kind, setup) => {
  let s: Setup
  let q: TypedQueue<Jobs>
  beforeAll(async () => {
    s = await setup()
    q = defineQueue(s.conn, 'durable', {
      namespace: 'jobs',
      jobs,
      checks: false,
      durability: { replicas: 1, timeout: TIMEOUT_MS },
    })
  }, 120_000)
  afterAll(async () => {
    await q?.queue.obliterate({ force: true }).catch(() => {})
    await q?.close()
    await s?.stop()
  })

  it('add and addBulk return once a replica has the job: it is on the replica when the call returns', async () => {
    const replicas = await s.replicasOf(q.queue.opts.prefix as string)
    expect(replicas.length).toBeGreaterThan(0)
    const id = await q.add('j', { i: 1 })
    const ids = await q.addBulk([
      { name: 'j', data: { i: 2 } },
      { name: 'j', data: { i: 3 } },
    ])
    // read at once, no polling: WAIT returned only after every replica acknowledged the offset
    for (const r of replicas) {
      for (const x of [id, ...ids]) expect(await holds(r, q, kind === 'cluster', x)).toBe(true)
    }
  })

  for (const fault of ['paused', 'killed'] as const) {
    it(`with every replica ${fault}: add and addBulk fail with E_NOT_REPLICATED after the timeout, the master has the jobs`, async () => {
      const replicas = await s.replicasOf(q.queue.opts.prefix as string)
      for (const r of replicas) {
        if (fault === 'paused') r.pause()
        else await r.kill()
      }
      try {
        const t0 = performance.now()
        const err = await q.add('j', { i: 4 }).then(
          () => undefined,
          (e: unknown) => e,
        )
        const ms = performance.now() - t0
        expect(err).toBeInstanceOf(NotReplicatedError)
        const e = err as NotReplicatedError
        expect(e.code).toBe('E_NOT_REPLICATED')
        expect(e.acknowledged).toBe(0)
        expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20)
        expect(ms).toBeLessThan(TIMEOUT_MS + 1_500)
        // the master took it: it is there, under the id the error names
        expect((await q.queue.getJob(e.ids[0] as string))?.data).toEqual({ i: 4 })
        expect(await codeOf(q.addBulk([{ name: 'j', data: { i: 5 } }]))).toBe('E_NOT_REPLICATED')
        // concurrent adds share one WAIT: WAIT blocks the connection, one each would take 8 × the timeout
        const t1 = performance.now()
        const codes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => codeOf(q.add('j', { i: 10 + i }))),
        )
        expect(codes).toEqual(Array(8).fill('E_NOT_REPLICATED'))
        expect(performance.now() - t1).toBeLessThan(4 * TIMEOUT_MS)
      } finally {
        for (const r of replicas) {
          if (fault === 'paused') r.resume()
          else await r.restart()
        }
      }
      // replicas back: adds are acknowledged again (the restarted replica resyncs first)
      const end = Date.now() + 30_000
      for (;;) {
        const code = await codeOf(q.add('j', { i: 6 }))
        if (code === 'ok') break
        expect(code).toBe('E_NOT_REPLICATED')
        if (Date.now() > end) throw new Error('replicas did not come back')
        await new Promise((r) => setTimeout(r, 200))
      }
    }, 60_000)
  }
})

describe('durability options', () => {
  it('durability.timeout must be below commandTimeout', async () => {
    const conn = { bullmq: () => ({}) } as unknown as Connection
    expect(() =>
      defineQueue(conn, 'x', { jobs, commandTimeout: '1s', durability: { replicas: 1, timeout: '2s' } }),
    ).toThrow(/durability\.timeout/)
  })
})
