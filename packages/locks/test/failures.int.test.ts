import { type Connection, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lock, LockManager } from '../src/index.js'
import { codeOf } from './helpers.js'

describe('server paused, replica paused, server restarted (own standalone + replica)', () => {
  let server: StandaloneTopology
  let conn: Connection

  beforeAll(async () => {
    server = await startStandalone({ replicas: 1 })
    conn = await connect({
      url: server.url,
      namespace: uniquePrefix('locks'),
      commandTimeout: '100ms',
      reconnect: { initialDelay: '20ms', maxDelay: '100ms' },
      breaker: { failureThreshold: 2, resetTimeout: '100ms' },
    })
  })
  afterAll(async () => {
    server.master.resume()
    server.replicas[0]?.resume()
    await conn.close()
    await server.stop()
  })

  it('server paused (SIGSTOP): the watchdog cannot extend, the signal aborts with E_LOCK_EXTEND_FAILED', async () => {
    const locks = new LockManager(conn)
    const lock = await locks.acquire('paused', { ttl: 400, autoExtend: true })
    const aborted = new Promise((r) => lock.signal.addEventListener('abort', r))
    server.master.pause()
    try {
      await aborted
    } finally {
      server.master.resume()
    }
    expect(lock.signal.reason.code).toBe('E_LOCK_EXTEND_FAILED')
    expect(lock.held).toBe(false)
    // The server's clock ran on while paused: the lease is gone there too, and the next holder is fenced above.
    const next = await waitFor<Lock>('lock after resume', () =>
      locks.tryAcquire('paused', { ttl: '5s' }).then(
        (l) => l ?? undefined,
        () => undefined,
      ),
    )
    expect(next.token).toBeGreaterThan(lock.token)
    expect(await codeOf(lock.release())).toBe('E_LOCK_LOST')
    expect(await codeOf(lock.extend())).toBe('E_LOCK_LOST')
    await next.release()
  })

  it('an extend that cannot reach the server is E_LOCK_EXTEND_FAILED (the lease may still hold)', async () => {
    const locks = new LockManager(conn)
    const lock = await locks.acquire('extend-fail', { ttl: '2s' })
    server.master.pause()
    try {
      expect(await codeOf(lock.extend('2s'))).toBe('E_LOCK_EXTEND_FAILED')
      expect(lock.held).toBe(true)
    } finally {
      server.master.resume()
    }
    await waitFor('server back', async () => (await conn.redis.ping().catch(() => '')) === 'PONG')
    await lock.extend('2s')
    await lock.release()
  })

  it('waitReplicas: fails with E_LOCK_NOT_REPLICATED (and releases) while the replica is paused', async () => {
    const locks = new LockManager(conn)
    const replica = server.replicas[0]!
    const ok = await locks.acquire('durable', { ttl: '5s', waitReplicas: 1, replicaTimeout: '1s' })
    await ok.release()
    replica.pause()
    try {
      const err = await locks
        .acquire('durable', { ttl: '5s', waitReplicas: 1, replicaTimeout: 100 })
        .catch((e) => e)
      expect(err.code).toBe('E_LOCK_NOT_REPLICATED')
      expect(err.details).toMatchObject({ acked: 0, wanted: 1 })
      expect(await locks.inspect('durable')).toBeNull()
    } finally {
      replica.resume()
    }
  })

  it("server restarted without persistence: 'clock' tokens stay monotonic, 'counter' tokens restart", async () => {
    const clock = new LockManager(conn, { namespace: 'clock' })
    const counter = new LockManager(conn, { namespace: 'counter', fencing: 'counter' })
    const c1 = await clock.acquire('r')
    const n1 = await counter.acquire('r')
    const n2 = await counter.acquire('r2')
    expect([n1.token, n2.token]).toEqual([1, 1])
    await Promise.all([c1.release(), n1.release(), n2.release()])
    const n3 = await counter.acquire('r')
    expect(n3.token).toBe(2)
    await n3.release()
    await server.master.restart()
    await server.waitHealthy()
    const c2 = await waitFor<Lock>('reconnected', () =>
      clock.tryAcquire('r').then(
        (l) => l ?? undefined,
        () => undefined,
      ),
    )
    expect(c2.token).toBeGreaterThan(c1.token)
    const n4 = await counter.acquire('r')
    expect(n4.token).toBe(1) // the documented limitation of 'counter' without persistence
    await Promise.all([c2.release(), n4.release()])
  })
})
