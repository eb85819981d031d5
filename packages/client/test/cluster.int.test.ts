import { type ClusterTopology, startCluster, uniquePrefix, waitFor } from '@cache/tools'
import { createCluster } from '@redis/client'
import { Cluster as IOCluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type Connection, connect, hashSlot, isCacheError } from '../src/index.js'

const { cluster } = inject('redis')

describe('Cluster (shared topology)', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connect({
      cluster: { nodes: cluster.nodes },
      replicaReads: true,
      namespace: uniquePrefix('cluster'),
    })
  })
  afterAll(() => conn.close())

  it('routes commands by slot', async () => {
    expect(conn.topology).toBe('cluster')
    for (let i = 0; i < 30; i++) await conn.redis.set(conn.keys.key(i), String(i))
    for (let i = 0; i < 30; i++) expect(await conn.redis.get(conn.keys.key(i))).toBe(String(i))
    expect(await conn.send(['GET', conn.keys.key(7)], { key: conn.keys.key(7) })).toBe('7')
  })

  it('never rejects a connected cluster client for queue length: 10,000 concurrent sends all succeed', async () => {
    // Above the default offline bound (1,000), spread over every shard and also piled onto one key.
    const keys = Array.from({ length: 100 }, (_, i) => conn.keys.key(`burst:${i}`))
    const replies = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => {
        const key = keys[i % keys.length] as string
        return conn.send<number>(['INCR', key], { key })
      }),
    )
    expect(replies.length).toBe(10_000)
    const values = await Promise.all(keys.map((k) => conn.redis.get(k)))
    expect(new Set(values)).toEqual(new Set(['100']))
    await Promise.all(keys.map((k) => conn.redis.del(k)))
  })

  it('scans every master', async () => {
    const seen = new Set<string>()
    for await (const batch of conn.scan(conn.keys.pattern('*'), { count: 10 }))
      for (const k of batch) seen.add(k)
    expect(seen.size).toBe(30)
    const slots = new Set([...seen].map((k) => hashSlot(k)))
    expect(slots.size).toBeGreaterThan(3)
    expect((await conn.masters()).length).toBe(3)
  })

  it('runs same-slot scripts and rejects cross-slot ones before sending', async () => {
    const swap = conn.defineScript<string>(
      'c-swap',
      "local v = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[2], v); return v",
      { keys: 2 },
    )
    await conn.redis.set(conn.keys.tagged('u1', 'a'), 'x')
    expect(await swap([conn.keys.tagged('u1', 'a'), conn.keys.tagged('u1', 'b')])).toBe('x')
    await expect(swap([conn.keys.key('a'), conn.keys.key('b')])).rejects.toSatisfy((e) =>
      isCacheError(e, 'E_CROSSSLOT'),
    )
    // SCRIPT FLUSH on every master: the next call reloads through EVAL.
    for (const m of await conn.masters()) await m.send(['SCRIPT', 'FLUSH'])
    expect(await swap([conn.keys.tagged('u1', 'a'), conn.keys.tagged('u1', 'c')])).toBe('x')
  })

  it('reports health for every master', async () => {
    const h = await conn.health()
    expect(h.ok).toBe(true)
    expect(h.topology).toBe('cluster')
    expect(h.nodes).toHaveLength(3)
    expect(h.nodes.every((n) => n.role === 'master')).toBe(true)
  })

  it('delivers classic and sharded pub/sub', async () => {
    const sub = await conn.subscriber()
    const got: string[] = []
    await sub.subscribe(conn.keys.key('c1'), (m) => got.push(`c:${m}`))
    await sub.sSubscribe(conn.keys.key('s1'), (m) => got.push(`s:${m}`))
    await conn.redis.publish(conn.keys.key('c1'), 'one')
    await conn.send(['SPUBLISH', conn.keys.key('s1'), 'two'], { key: conn.keys.key('s1') })
    await expect.poll(() => got.sort()).toEqual(['c:one', 's:two'])
    await sub.sUnsubscribe(conn.keys.key('s1'))
  })

  it('reads from replicas when replicaReads is on', async () => {
    expect(conn.replicas).not.toBe(conn.unguarded)
    await expect.poll(() => (conn.replicas as typeof conn.redis).get(conn.keys.key(3))).toBe('3')
  })

  it('gives BullMQ cluster startup nodes that ioredis can use', async () => {
    const o = conn.bullmq()
    if (o.kind !== 'cluster') throw new Error('expected cluster')
    const io = new IOCluster(o.startupNodes, o.options as never)
    try {
      expect(await io.get(conn.keys.key(1))).toBe('1')
    } finally {
      io.disconnect()
    }
  })
})

describe('a wrapped node-redis cluster', () => {
  it('keeps its real seed nodes (used for rediscovery and bullmq())', async () => {
    const raw = createCluster({
      rootNodes: cluster.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
    })
    const conn = await connect(raw as never)
    try {
      expect(conn.topology).toBe('cluster')
      expect(conn.config.nodes).toEqual(cluster.nodes)
      await conn.redis.set(`wrapped-${uniquePrefix()}`, '1')
    } finally {
      await conn.close()
      await raw.close()
    }
  })
})

describe('Cluster failover (own topology)', () => {
  let topo: ClusterTopology
  let conn: Connection
  beforeAll(async () => {
    topo = await startCluster()
    const info = topo.info()
    if (info.kind !== 'cluster') throw new Error('unreachable')
    conn = await connect({
      cluster: { nodes: info.nodes },
      commandTimeout: '500ms',
      breaker: { failureThreshold: 5, resetTimeout: '200ms' },
    })
    conn.on('error', () => {})
  })
  afterAll(async () => {
    await conn.close()
    await topo.stop()
  })

  async function getUntilOk(key: string): Promise<string | null> {
    return waitFor(
      `GET ${key}`,
      async () => {
        try {
          return { v: await conn.redis.get(key) }
        } catch (err) {
          if (!isCacheError(err)) throw err
          return undefined
        }
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    ).then((r) => r.v)
  }

  it('resumes commands after a manual CLUSTER FAILOVER', async () => {
    const key = 'fo-key' // slot 0's owner is failed over below only if it owns this key; find its master
    await conn.redis.set(key, 'v1')
    const master = await topo.masterForSlot(hashSlot(key))
    await conn.send(['WAIT', '1', '2000'], { key })
    const promoted = await topo.failover(master)
    expect(await promoted.role()).toBe('master')
    expect(await getUntilOk(key)).toBe('v1')
    await conn.redis.set(key, 'v2')
    expect(await promoted.command(['GET', key])).toBe('v2')
  })

  it('resumes commands after a master is killed and its replica takes over', async () => {
    const key = 'kill-key'
    await conn.redis.set(key, 'before')
    const master = await topo.masterForSlot(hashSlot(key))
    await conn.send(['WAIT', '1', '2000'], { key })
    await master.kill()
    await topo.waitHealthy()
    expect(await getUntilOk(key)).toBe('before')
    await conn.redis.set(key, 'after')
    expect(await conn.redis.get(key)).toBe('after')
    await master.restart()
    await topo.waitHealthy()
  })
})
