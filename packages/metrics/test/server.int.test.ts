import diagnostics from 'node:diagnostics_channel'
import { type Connection, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type BigKeysProgress, Metrics, recommend } from '../src/index.js'
import { sharedConnection } from './helpers.js'

describe('server insight on the shared topologies', () => {
  it('Cluster: every master and every replica, INFO parsed, replication lag per replica', async () => {
    const conn = await sharedConnection('cluster')
    const metrics = new Metrics(conn, { flushInterval: '1h' })
    try {
      const insight = await metrics.server()
      expect(insight.topology).toBe('cluster')
      const masters = insight.nodes.filter((n) => n.role === 'master')
      const replicas = insight.nodes.filter((n) => n.role === 'replica')
      expect(masters).toHaveLength(3)
      expect(replicas).toHaveLength(3)
      for (const n of insight.nodes) {
        expect(n.ok).toBe(true)
        expect(n.version).toMatch(/^\d+\.\d+/)
        expect(n.memory!.used).toBeGreaterThan(0)
        expect(n.memory!.fragmentationRatio).toBeGreaterThan(0)
        expect(typeof n.memory!.policy).toBe('string')
        expect(n.connectedClients).toBeGreaterThan(0)
        expect(Array.isArray(n.slowlog)).toBe(true)
        expect(Array.isArray(n.latency)).toBe(true)
        expect(n.memory!.stats?.['peak.allocated']).toBeGreaterThan(0)
      }
      for (const m of masters) {
        expect(m.replication!.replicas).toHaveLength(1)
        expect(m.replication!.replicas![0]!.lagBytes).toBeGreaterThanOrEqual(0)
        expect(replicas.map((r) => r.address)).toContain(m.replication!.replicas![0]!.address)
      }
      for (const r of replicas) expect(r.replication!.masterLinkStatus).toBe('up')
    } finally {
      await metrics.close()
      await conn.close()
    }
  })

  it('Sentinel and standalone: the master and its replica', async () => {
    const { sentinel } = inject('redis')
    const conns = [
      await connect({
        sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
        namespace: uniquePrefix('m'),
      }),
      await sharedConnection('standalone'),
    ]
    try {
      for (const conn of conns) {
        const insight = await new Metrics(conn, { flushInterval: '1h' }).server()
        expect(insight.nodes.map((n) => n.role).sort()).toEqual(['master', 'replica'])
        expect(insight.nodes.every((n) => n.ok)).toBe(true)
        expect(insight.nodes.find((n) => n.role === 'replica')!.replication!.masterLinkStatus).toBe('up')
      }
    } finally {
      await Promise.all(conns.map((c) => c.close()))
    }
  })

  it('bigKeys on Cluster: SCAN per master, sampled, throttled, with progress; sizes, TTLs and prefixes', async () => {
    const conn = await sharedConnection('cluster')
    const metrics = new Metrics(conn, { flushInterval: '1h' })
    try {
      const big = 'x'.repeat(200_000)
      for (let i = 0; i < 120; i++) {
        const key = conn.keys.key('cache', `item-${i}`)
        if (i % 4 === 0) await conn.send(['SET', key, `v${i}`], { key })
        else await conn.send(['SET', key, `v${i}`, 'EX', '600'], { key })
      }
      await conn.send(['SET', conn.keys.key('blob', 'a'), big], { key: conn.keys.key('blob', 'a') })
      await conn.send(['SET', conn.keys.key('blob', 'b'), big.slice(0, 50_000), 'EX', '600'], {
        key: conn.keys.key('blob', 'b'),
      })
      const progress: BigKeysProgress[] = []
      const report = await metrics.bigKeys({ count: 10, pauseMs: 1, onProgress: (p) => progress.push(p) })
      expect(report.sampled).toBe(122)
      expect(report.top[0]!.key).toBe(conn.keys.key('blob', 'a'))
      expect(report.top[0]!.bytes).toBeGreaterThan(200_000)
      expect(report.top[0]!.ttlMs).toBe(-1)
      expect(report.top[1]!.key).toBe(conn.keys.key('blob', 'b'))
      expect(report.top[1]!.ttlMs).toBeGreaterThan(500_000)
      expect(report.withoutTtl.count).toBe(31)
      expect(report.withoutTtl.top[0]!.key).toBe(conn.keys.key('blob', 'a'))
      expect(report.byPrefix.map((p) => [p.prefix, p.keys])).toEqual([
        ['blob', 2],
        ['cache', 120],
      ])
      expect(new Set(report.top.map((k) => k.node)).size).toBeGreaterThan(1)
      expect(progress.at(-1)).toMatchObject({ nodesDone: 3, nodes: 3, sampled: 122 })
      expect(progress.length).toBeGreaterThan(3)
      // Sampling stops at `sample` (spread over the masters).
      const sampled = await metrics.bigKeys({ namespace: 'cache', sample: 30, count: 5 })
      expect(sampled.sampled).toBeLessThanOrEqual(30)
      expect(sampled.sampled).toBeGreaterThanOrEqual(20)
      expect(sampled.top.every((k) => k.key.startsWith(conn.keys.key('cache', '')))).toBe(true)
      await expect(metrics.bigKeys({ sample: 0 })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    } finally {
      await metrics.close()
      await conn.close()
    }
  })
})

describe('recommendations on an own server (configured for it)', () => {
  let topo: StandaloneTopology
  let conn: Connection

  beforeAll(async () => {
    topo = await startStandalone({
      config: { 'slowlog-log-slower-than': 0, 'maxmemory-policy': 'allkeys-lru' },
    })
    conn = await connect({ url: topo.url, namespace: 'app' })
  })
  afterAll(async () => {
    await conn.close()
    await topo.stop()
  })

  it('queues under an evicting policy, no maxmemory, keys without TTL, big keys, slow commands', async () => {
    for (let i = 0; i < 50; i++) await conn.send(['SET', `app:cache:k${i}`, 'v'])
    await conn.send(['SET', 'app:cache:huge', 'y'.repeat(100_000)])
    for (const s of ['meta', 'wait', 'events']) await conn.send(['HSET', `app:queue:emails:${s}`, 'f', 'v'])
    const metrics = new Metrics(conn, { flushInterval: '1h' })
    const advice = await metrics.recommendations({ bigKey: 50_000 })
    const ids = advice.map((a) => a.id)
    expect(ids).toEqual(
      expect.arrayContaining([
        'queue-eviction-policy',
        'no-maxmemory',
        'keys-without-ttl',
        'big-keys',
        'slow-commands',
      ]),
    )
    expect(advice[0]!.severity).toBe('critical')
    expect(advice.find((a) => a.id === 'queue-eviction-policy')!.message).toMatch(/allkeys-lru/)
    // Without queue keys and with noeviction + maxmemory: the cache advice instead.
    await conn.send(['DEL', 'app:queue:emails:meta', 'app:queue:emails:wait', 'app:queue:emails:events'])
    await conn.send(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'])
    await conn.send(['CONFIG', 'SET', 'maxmemory', '1gb'])
    // Within sampleMaxAge (5 minutes by default) the key sample is reused: no SCAN, the queue keys are still
    // in it, so neither eviction advice applies; sampleMaxAge: 0 samples anew.
    const scans: unknown[] = []
    const onCommand = (m: unknown) => {
      if ((m as { command: string }).command === 'SCAN') scans.push(m)
    }
    diagnostics.subscribe('cache:client:command', onCommand)
    const cached = (await metrics.recommendations()).map((a) => a.id)
    diagnostics.unsubscribe('cache:client:command', onCommand)
    expect(scans).toHaveLength(0)
    expect(cached).not.toContain('cache-eviction-policy')
    expect(cached).not.toContain('queue-eviction-policy')
    const again = (await metrics.recommendations({ sampleMaxAge: 0 })).map((a) => a.id)
    expect(again).toContain('cache-eviction-policy')
    expect(again).not.toContain('queue-eviction-policy')
    expect(again).not.toContain('no-maxmemory')
    await metrics.close()
  })

  it('degrades with a note when ACL denies SLOWLOG, LATENCY and MEMORY', async () => {
    await conn.send([
      'ACL',
      'SETUSER',
      'monitor',
      'on',
      '>secret-pw',
      '~*',
      '&*',
      '+@all',
      '-slowlog',
      '-latency',
      '-memory',
    ])
    const limited = await connect({
      url: topo.url,
      username: 'monitor',
      password: 'secret-pw',
      namespace: 'app',
    })
    try {
      const metrics = new Metrics(limited, { flushInterval: '1h' })
      const insight = await metrics.server({ replicas: false })
      const node = insight.nodes[0]!
      expect(node.ok).toBe(true)
      expect(node.memory!.used).toBeGreaterThan(0)
      expect(node.slowlog).toBeUndefined()
      expect(node.notes.map((n) => n.split(':')[0])).toEqual(['SLOWLOG', 'LATENCY LATEST', 'MEMORY STATS'])
      expect(node.notes.join('\n')).not.toContain('secret-pw')
      const report = await metrics.bigKeys({ namespace: 'cache' })
      expect(report.sampled).toBeGreaterThan(0)
      expect(report.top.every((k) => k.bytes === null)).toBe(true)
      expect(report.notes[0]).toMatch(/^MEMORY USAGE/)
      expect(recommend(insight, report).map((a) => a.id)).toContain('insight-denied')
    } finally {
      await limited.close()
    }
  })
})
