import { type SentinelTopology, startSentinel, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type Connection, connect, isCacheError } from '../src/index.js'

const { sentinel } = inject('redis')

describe('Sentinel (shared topology)', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connect({
      sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
      replicaReads: true,
      namespace: uniquePrefix('sentinel'),
    })
  })
  afterAll(() => conn.close())

  it('connects to the master through the sentinels', async () => {
    expect(conn.topology).toBe('sentinel')
    const key = conn.keys.key('k')
    await conn.redis.set(key, 'v')
    expect(await conn.redis.get(key)).toBe('v')
    const h = await conn.health()
    expect(h).toMatchObject({ ok: true, topology: 'sentinel', role: 'master' })
  })

  it('runs scripts, scans and pub/sub', async () => {
    const script = conn.defineScript<number>('s-incr', "return redis.call('INCR', KEYS[1])", { keys: 1 })
    expect(await script([conn.keys.key('n')])).toBe(1)
    let n = 0
    for await (const batch of conn.scan(conn.keys.pattern('*'))) n += batch.length
    expect(n).toBe(2)
    const sub = await conn.subscriber()
    const got: string[] = []
    await sub.subscribe(conn.keys.key('ch'), (m) => got.push(m))
    await conn.redis.publish(conn.keys.key('ch'), 'hi')
    await expect.poll(() => got).toEqual(['hi'])
  })

  it('reads from a replica when replicaReads is on', async () => {
    expect(conn.replicas).not.toBe(conn.unguarded)
    const key = conn.keys.key('rr')
    await conn.redis.set(key, 'x')
    await conn.send(['WAIT', '1', '1000'])
    await expect.poll(() => (conn.replicas as typeof conn.redis).get(key)).toBe('x')
  })

  it('gives BullMQ sentinel options', () => {
    const o = conn.bullmq()
    expect(o.kind).toBe('sentinel')
    expect(o.options).toMatchObject({
      name: sentinel.name,
      sentinels: sentinel.sentinels,
      maxRetriesPerRequest: null,
      failoverDetector: true,
    })
    // A write refused by a demoted master reconnects and is resent; other errors are left to the caller.
    const reconnect = o.options.reconnectOnError as (e: Error) => number | false
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(2)
    expect(reconnect(new Error('ERR wrong number of arguments'))).toBe(false)
  })
})

describe('Sentinel failover (own topology)', () => {
  let topo: SentinelTopology
  let conn: Connection
  beforeAll(async () => {
    topo = await startSentinel({ replicas: 1, sentinels: 3 })
    const info = topo.info()
    if (info.kind !== 'sentinel') throw new Error('unreachable')
    conn = await connect({
      sentinel: { name: info.name, sentinels: info.sentinels },
      commandTimeout: '500ms',
      breaker: { failureThreshold: 3, resetTimeout: '200ms' },
    })
    conn.on('error', () => {})
  })
  afterAll(async () => {
    await conn.close()
    await topo.stop()
  })

  async function writeUntilOk(key: string, value: string): Promise<void> {
    await waitFor(
      `SET ${key} succeeds`,
      async () => {
        try {
          await conn.redis.set(key, value)
          return true
        } catch (err) {
          if (!isCacheError(err)) throw err
          return false
        }
      },
      { timeoutMs: 40_000, intervalMs: 100 },
    )
  }

  it('follows the new master after SENTINEL FAILOVER', async () => {
    const before = await topo.master()
    await conn.redis.set('k1', 'a')
    // The replica has the write before the fault (WAIT may block past the 500 ms command timeout under load).
    expect(await conn.send<number>(['WAIT', '1', '5000'], { timeoutMs: 6000 })).toBeGreaterThanOrEqual(1)
    const after = await topo.failover()
    expect(after.port).not.toBe(before.port)
    await writeUntilOk('k2', 'b')
    expect(await conn.redis.get('k1')).toBe('a')
    expect(await after.command(['GET', 'k2'])).toBe('b')
  })

  it('follows the new master when the master is killed', async () => {
    const old = await topo.master()
    await conn.redis.set('k3', 'c')
    // The replica has the write before the fault (WAIT may block past the 500 ms command timeout under load).
    expect(await conn.send<number>(['WAIT', '1', '5000'], { timeoutMs: 6000 })).toBeGreaterThanOrEqual(1)
    await old.kill()
    const next = await waitFor(
      'a new master',
      async () => {
        const port = await topo.masterPort()
        return port !== old.port ? port : undefined
      },
      { timeoutMs: 40_000, intervalMs: 200 },
    )
    await writeUntilOk('k4', 'd')
    const master = topo.dataNodes.find((n) => n.port === next)!
    expect(await master.command(['GET', 'k4'])).toBe('d')
    expect(await conn.redis.get('k3')).toBe('c')
    await old.restart()
  })
})
