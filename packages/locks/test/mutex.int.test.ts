import { type CommandEvent, type Connection, commandChannel } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lock, LockManager } from '../src/index.js'
import { codeOf, sharedConnection, sleep } from './helpers.js'

describe.each(['standalone', 'cluster', 'sentinel'] as const)('mutex on %s', (kind) => {
  let conn: Connection
  let locks: LockManager

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    locks = new LockManager(conn)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('acquires, excludes, releases, and hands out increasing fencing tokens', async () => {
    const a = await locks.acquire('r1', { ttl: '5s' })
    expect(a.held).toBe(true)
    expect(await locks.tryAcquire('r1')).toBeNull()
    const info = await locks.inspect('r1')
    expect(info).toMatchObject({ resource: 'r1', token: a.token, holder: locks.id, holdCount: 1 })
    await a.release()
    await a.release() // idempotent
    expect(a.held).toBe(false)
    const b = await locks.tryAcquire('r1')
    expect(b).not.toBeNull()
    expect(b!.token).toBeGreaterThan(a.token)
    await b!.release()
    expect(await locks.inspect('r1')).toBeNull()
  })

  it('wakes a waiter by notification on release (the fallback poll is set to a minute)', async () => {
    const slowPoll = new LockManager(conn, { retryInterval: 60_000 })
    const holder = await locks.acquire('notify', { ttl: '30s' })
    const waiting = slowPoll.acquire('notify', { ttl: '5s', waitTimeout: '10s' })
    await sleep(50)
    await holder.release()
    const next = await waiting
    expect(next.token).toBeGreaterThan(holder.token)
    await next.release()
  })

  it('waiting is not polling: 10 waiters through a 300 ms hold cost a bounded number of attempts', async () => {
    const quiet = new LockManager(conn, { retryInterval: 60_000 })
    const holder = await quiet.acquire('storm', { ttl: '30s' })
    let attempts = 0
    const count = (e: unknown) => {
      // One event per script call: a batch of same-tick attempts counts once.
      if ((e as CommandEvent).command.startsWith('EVALSHA locks:lock-acquire')) attempts++
    }
    commandChannel.subscribe(count)
    try {
      const order: number[] = []
      const waiters = Array.from({ length: 10 }, (_, i) =>
        quiet.acquire('storm', { ttl: '5s', waitTimeout: '20s' }).then(async (l) => {
          order.push(i)
          await l.release()
        }),
      )
      await sleep(300)
      // One attempt before and one after subscribing, per waiter; then silence until the release.
      expect(attempts).toBeLessThanOrEqual(20)
      const before = attempts
      await holder.release()
      await Promise.all(waiters)
      expect(order).toHaveLength(10)
      // Each release wakes one waiter of this process: about one attempt per handoff.
      expect(attempts - before).toBeLessThanOrEqual(20)
    } finally {
      commandChannel.unsubscribe(count)
    }
  })

  it('a release hands the lock to a waiter, not to a newcomer barging in', async () => {
    const quiet = new LockManager(conn, { retryInterval: 60_000 })
    const holder = await quiet.acquire('handoff', { ttl: '10s' })
    const waiting = quiet.acquire('handoff', { ttl: '5s', waitTimeout: '10s' })
    await sleep(50)
    await holder.release()
    expect(await quiet.tryAcquire('handoff')).toBeNull()
    const next = await waiting
    expect(next.token).toBeGreaterThan(holder.token)
    await next.release()
    // No waiter left: the lock is free at once.
    const free = await quiet.tryAcquire('handoff')
    expect(free).not.toBeNull()
    await free!.release()
  })

  it('gives E_LOCK_TIMEOUT when the lock is not free in time, and E_LOCK_ABORTED on the signal', async () => {
    const holder = await locks.acquire('busy', { ttl: '5s' })
    const err = await locks.acquire('busy', { waitTimeout: 80 }).catch((e) => e)
    expect(err.code).toBe('E_LOCK_TIMEOUT')
    expect(err.details).toMatchObject({ resource: 'busy' })
    const ac = new AbortController()
    const aborted = locks.acquire('busy', { waitTimeout: '5s', signal: ac.signal })
    setTimeout(() => ac.abort(new Error('shutdown')), 30)
    expect(await codeOf(aborted)).toBe('E_LOCK_ABORTED')
    expect(await codeOf(locks.acquire('busy', { signal: AbortSignal.abort() }))).toBe('E_LOCK_ABORTED')
    await holder.release()
  })

  it('a holder that stops extending loses the lease: signal aborts, release/extend report E_LOCK_LOST, next token is higher', async () => {
    const a = await locks.acquire('pause', { ttl: 150, autoExtend: false })
    const aborted = new Promise((r) => a.signal.addEventListener('abort', r))
    await sleep(300) // the "paused" holder
    await aborted
    expect(a.signal.reason.code).toBe('E_LOCK_LOST')
    const b = await locks.acquire('pause', { ttl: '5s', waitTimeout: '1s' })
    expect(b.token).toBeGreaterThan(a.token)
    expect(await codeOf(a.extend('1s'))).toBe('E_LOCK_LOST')
    expect(await codeOf(a.release())).toBe('E_LOCK_LOST')
    // The stale holder's release did not touch the new holder's lease.
    expect((await locks.inspect('pause'))?.token).toBe(b.token)
    await b.release()
  })

  it('detects a lease taken over on the server at extend and at release (owner token check)', async () => {
    const key = `${conn.keys.namespace}:lock:{taken}`
    const a = await locks.acquire('taken', { ttl: '5s' })
    await conn.send(['DEL', key], { key })
    const b = await locks.acquire('taken', { ttl: '5s' })
    expect(await codeOf(a.extend())).toBe('E_LOCK_LOST')
    expect(a.signal.aborted).toBe(true)
    expect(await codeOf(a.release())).toBe('E_LOCK_LOST')
    await b.release()
    const c = await locks.acquire('taken', { ttl: '5s' })
    await conn.send(['DEL', key], { key })
    expect(await codeOf(c.release())).toBe('E_LOCK_LOST')
  })

  it('the watchdog keeps a lease alive past its ttl while held', async () => {
    const a = await locks.acquire('watchdog', { ttl: 150, autoExtend: true })
    await sleep(450)
    expect(a.held).toBe(true)
    expect(a.signal.aborted).toBe(false)
    expect((await locks.inspect('watchdog'))?.token).toBe(a.token)
    await a.extend(300)
    await a.release()
  })

  it('using() always releases, also when the callback throws', async () => {
    const value = await locks.using('using', { ttl: '5s' }, async (lock) => lock.token)
    expect(value).toBeGreaterThan(0)
    await expect(
      locks.using('using', { ttl: '5s' }, async () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(await locks.inspect('using')).toBeNull()
  })

  it('FIFO fairness: waiters get the lock in arrival order', async () => {
    const holder = await locks.acquire('fifo', { ttl: '10s', fair: true })
    const order: number[] = []
    const waiters: Promise<void>[] = []
    for (let i = 0; i < 5; i++) {
      waiters.push(
        locks.acquire('fifo', { ttl: '5s', waitTimeout: '10s', fair: true }).then(async (l) => {
          order.push(i)
          await sleep(5)
          await l.release()
        }),
      )
      // Wait until this waiter is queued before the next one arrives.
      for (let n = 0; n < 100 && (await locks.inspect('fifo'))?.queued !== i + 1; n++) await sleep(5)
    }
    await holder.release()
    await Promise.all(waiters)
    expect(order).toEqual([0, 1, 2, 3, 4])
  })

  it('reentrant acquisition with the same owner nests', async () => {
    const a = await locks.acquire('re', { ttl: '5s', reentrant: true, owner: 'job-1' })
    const b = await locks.acquire('re', { ttl: '5s', reentrant: true, owner: 'job-1', waitTimeout: 0 })
    expect(b.token).toBe(a.token)
    expect((await locks.inspect('re'))?.holdCount).toBe(2)
    expect(await locks.tryAcquire('re', { reentrant: true, owner: 'job-2' })).toBeNull()
    await b.release()
    expect((await locks.inspect('re'))?.holdCount).toBe(1)
    await a.release()
    expect(await locks.inspect('re')).toBeNull()
  })

  it('acquireAll: overlapping sets taken in opposite orders never deadlock and never overlap', async () => {
    let inside = 0
    let overlaps = 0
    const worker = async (set: string[]) => {
      for (let i = 0; i < 15; i++) {
        const group = await locks.acquireAll(set, { ttl: '5s', waitTimeout: '10s' })
        inside++
        if (inside > 1) overlaps++
        await sleep(1)
        inside--
        await group.release()
      }
    }
    await Promise.all([worker(['x', 'y', 'z']), worker(['z', 'y']), worker(['y', 'x'])])
    expect(overlaps).toBe(0)
    const group = await locks.acquireAll(['x', 'y'])
    expect(group.locks.map((l) => l.resource).sort()).toEqual(['x', 'y'])
    expect(group.signal.aborted).toBe(false)
    await group.extend('5s')
    // Nothing is left held when part of a set cannot be taken.
    const err = await locks.acquireAll(['w', 'x'], { waitTimeout: 50 }).catch((e) => e)
    expect(err.code).toBe('E_LOCK_TIMEOUT')
    expect(await locks.inspect('w')).toBeNull()
    await group.release()
  })

  it('a group aborts its signal when a member is lost; heldLongerThan scans every master', async () => {
    const group = await locks.acquireAll(['g1', 'g2', 'g3'], { ttl: '5s' })
    await sleep(30)
    const long = await locks.heldLongerThan(20)
    expect(long.map((l) => l.resource)).toEqual(expect.arrayContaining(['g1', 'g2', 'g3']))
    const key = `${conn.keys.namespace}:lock:{g2}`
    await conn.send(['DEL', key], { key })
    await expect(group.extend()).rejects.toMatchObject({ code: 'E_LOCK_LOST', resource: 'g2' })
    expect(group.signal.aborted).toBe(true)
    await expect(group.release()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    expect(await locks.inspect('g1')).toBeNull()
    expect(await locks.inspect('g3')).toBeNull()
  })

  it('races: 20 concurrent tryAcquire calls, exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => locks.tryAcquire('race', { ttl: '5s' })),
    )
    const winners = results.filter((l): l is Lock => l !== null)
    expect(winners).toHaveLength(1)
    await winners[0]!.release()
  })
})
