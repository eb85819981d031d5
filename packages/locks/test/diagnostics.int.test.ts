import type { Connection } from '@cache/client'
import { waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { heldTooLongChannel, LockManager, ReadWriteLock, Semaphore, waitChannel } from '../src/index.js'
import { codeOf, sharedConnection, sleep } from './helpers.js'

describe('diagnostics and bad input (shared standalone)', () => {
  let conn: Connection

  beforeAll(async () => {
    conn = await sharedConnection('standalone')
  })
  afterAll(async () => {
    await conn.close()
  })

  it('wait-for view and deadlock report: A holds r1 and waits for r2, B holds r2 and waits for r1', async () => {
    const a = new LockManager(conn, { id: 'proc-a', retryInterval: 50 })
    const b = new LockManager(conn, { id: 'proc-b', retryInterval: 50 })
    const r1 = await a.acquire('r1', { ttl: '5s' })
    const r2 = await b.acquire('r2', { ttl: '5s' })
    const aWaits = a.acquire('r2', { waitTimeout: 600 })
    const bWaits = b.acquire('r1', { waitTimeout: 600 })
    const edges = await waitFor('both waiting', async () => {
      const e = await a.waitFor()
      return e.length === 2 ? e : undefined
    })
    expect(edges.map((e) => [e.waiter, e.resource, e.holder]).sort()).toEqual([
      ['proc-a', 'r2', 'proc-b'],
      ['proc-b', 'r1', 'proc-a'],
    ])
    expect(await a.deadlocks()).toEqual([['proc-a', 'proc-b']])
    // Wait-for timeouts break the deadlock.
    expect(await codeOf(aWaits)).toBe('E_LOCK_TIMEOUT')
    expect(await codeOf(bWaits)).toBe('E_LOCK_TIMEOUT')
    await waitFor('waits cleared', async () => (await a.waitFor()).length === 0)
    await Promise.all([r1.release(), r2.release()])
  })

  it('cache:locks:wait: one message per acquisition with outcome and time waited', async () => {
    const locks = new LockManager(conn, { retryInterval: 20 })
    const published: Array<{ resource: string; outcome: string; waitedMs: number }> = []
    const sub = (m: unknown) => published.push(m as (typeof published)[number])
    waitChannel.subscribe(sub)
    try {
      const held = await locks.acquire('wait/metric', { ttl: '5s' })
      const timedOut = locks.acquire('wait/metric', { waitTimeout: 150 })
      expect(await codeOf(timedOut)).toBe('E_LOCK_TIMEOUT')
      const later = locks.acquire('wait/metric', { waitTimeout: '5s' })
      await sleep(100)
      await held.release()
      await (await later).release()
    } finally {
      waitChannel.unsubscribe(sub)
    }
    const mine = published.filter((m) => m.resource === 'wait/metric')
    expect(mine.map((m) => m.outcome)).toEqual(['acquired', 'timeout', 'acquired'])
    expect(mine[0]!.waitedMs).toBeLessThan(50)
    expect(mine[1]!.waitedMs).toBeGreaterThanOrEqual(140)
    expect(mine[2]!.waitedMs).toBeGreaterThanOrEqual(90)
  })

  it('held-too-long: event, diagnostics channel, and a SCAN of long-held locks (server clock)', async () => {
    const locks = new LockManager(conn, { heldTooLong: 50 })
    const events: unknown[] = []
    const published: unknown[] = []
    const sub = (m: unknown) => published.push(m)
    heldTooLongChannel.subscribe(sub)
    locks.on('held-too-long', (e) => events.push(e))
    const slow = await locks.acquire('slow/job', { ttl: '5s' })
    const quick = await locks.acquire('quick', { ttl: '5s' })
    await sleep(120)
    const fresh = await locks.acquire('fresh', { ttl: '5s' })
    heldTooLongChannel.unsubscribe(sub)
    expect(events).toEqual(
      expect.arrayContaining([expect.objectContaining({ resource: 'slow/job', token: slow.token })]),
    )
    expect(published.length).toBeGreaterThanOrEqual(2)
    const long = await locks.heldLongerThan(100)
    expect(long.map((l) => l.resource).sort()).toEqual(['quick', 'slow/job'])
    expect(long[0]!.ttlMs).toBeGreaterThan(0)
    // The caller's scan (a throttled, resumable one in `cache locks`): it gets the lock keys' MATCH and TYPE,
    // and only the keys it yields are read; here it yields one of them.
    const asked: Array<[string, string]> = []
    const partial = await locks.heldLongerThan(0, {
      scan: async function* (match, type) {
        asked.push([match, type])
        const keys: string[] = []
        for await (const batch of conn.scan(match, { type })) keys.push(...batch)
        yield keys.filter((k) => k.includes('slow'))
      },
    })
    expect(asked).toHaveLength(1)
    expect(asked[0]![1]).toBe('string')
    expect(partial.map((l) => l.resource)).toEqual(['slow/job'])
    await Promise.all([slow.release(), quick.release(), fresh.release()])
    expect(await locks.heldLongerThan('0ms')).toEqual([])
  })

  it('fair waiters that give up leave the queue', async () => {
    const locks = new LockManager(conn, { retryInterval: 30 })
    const holder = await locks.acquire('fair-giveup', { ttl: '5s', fair: true })
    expect(await codeOf(locks.acquire('fair-giveup', { waitTimeout: 60, fair: true }))).toBe('E_LOCK_TIMEOUT')
    expect((await locks.inspect('fair-giveup'))?.queued).toBe(0)
    await holder.release()
    const next = await locks.acquire('fair-giveup', { waitTimeout: 0, fair: true })
    await next.release()
  })

  it('rejects bad options (E_INVALID_OPTION) and bad arguments (E_INVALID_ARGUMENT) naming the field', async () => {
    const locks = new LockManager(conn)
    const invalid = (field: string) => expect.objectContaining({ code: 'E_INVALID_OPTION', field })
    const badArg = (field: string) => expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field })
    expect(() => new LockManager(conn, { retryInterval: 0 })).toThrow(invalid('retryInterval'))
    expect(() => new LockManager(conn, { fencing: 'wall' as never })).toThrow(invalid('fencing'))
    expect(() => new LockManager(conn, { namespace: 'a b' })).toThrow(invalid('namespace'))
    expect(() => new Semaphore(conn, 's', { limit: 1, namespace: 'x::y' })).toThrow(invalid('namespace'))
    expect(() => new LockManager(conn, { unknown: 1 } as never)).toThrow(invalid('unknown'))
    await expect(locks.acquire('', {})).rejects.toEqual(badArg('resource'))
    await expect(locks.acquire('r', { ttl: -5 })).rejects.toEqual(invalid('ttl'))
    await expect(locks.tryAcquire('r', { ttl: 'soon' })).rejects.toEqual(invalid('ttl'))
    await expect(locks.acquireAll([])).rejects.toEqual(badArg('resources'))
    await expect(locks.acquireAll(['a', ''])).rejects.toEqual(badArg('resources'))
    await expect(locks.heldLongerThan(-1)).rejects.toEqual(invalid('threshold'))
    await expect(locks.heldLongerThan(0, { scan: 'SCAN' as never })).rejects.toEqual(badArg('options.scan'))
    expect(() => new Semaphore(conn, 'pool', { limit: 0 })).toThrow(invalid('limit'))
    expect(() => new Semaphore(conn, 'pool', {} as never)).toThrow(invalid('limit'))
    expect(() => new Semaphore(conn, '', { limit: 1 })).toThrow(badArg('name'))
    expect(() => new ReadWriteLock(conn, 'rw', { retryInterval: '1y' })).toThrow(invalid('retryInterval'))
    const sem = new Semaphore(conn, 'pool', { limit: 1 })
    await expect(sem.acquire({ ttl: 0 })).rejects.toEqual(invalid('ttl'))
  })

  it('waitFor() reads the wait-for view on a RESP3 connection too', async () => {
    const conn3 = await sharedConnection('standalone', { resp: 3 })
    try {
      const a = new LockManager(conn3, { id: 'resp3-a', retryInterval: 50 })
      const b = new LockManager(conn3, { id: 'resp3-b', retryInterval: 50 })
      const held = await a.acquire('r3', { ttl: '5s' })
      const waiting = b.acquire('r3', { waitTimeout: '5s' })
      const edges = await waitFor('b waiting', async () => {
        const e = await a.waitFor()
        return e.length === 1 ? e : undefined
      })
      expect(edges.map((e) => [e.waiter, e.resource, e.holder])).toEqual([['resp3-b', 'r3', 'resp3-a']])
      await held.release()
      await (await waiting).release()
    } finally {
      await conn3.close()
    }
  })

  it('close() releases the locks a manager handed out, refuses new ones (E_CLOSED) and is idempotent', async () => {
    const other = new LockManager(conn)
    let lock: Awaited<ReturnType<LockManager['acquire']>> | undefined
    {
      await using locks = new LockManager(conn)
      lock = await locks.acquire('closing', { ttl: '30s' })
      const released = await locks.acquire('released-before', { ttl: '30s' })
      await released.release()
      expect((await other.inspect('closing'))?.token).toBe(lock.token)
      await locks.close()
      await locks.close()
      expect(await codeOf(locks.acquire('closing'))).toBe('E_CLOSED')
      expect(await codeOf(locks.tryAcquire('closing'))).toBe('E_CLOSED')
      expect(await codeOf(locks.acquireAll(['closing']))).toBe('E_CLOSED')
    }
    expect(lock.held).toBe(false)
    expect(await other.inspect('closing')).toBeNull()
    await other.close()
  })
})
