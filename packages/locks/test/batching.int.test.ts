import { type CommandEvent, type Connection, commandChannel, hashSlot } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lock, LockManager } from '../src/index.js'
import { lockAcquire, lockRelease } from '../src/scripts/index.js'
import { sharedConnection, sleep } from './helpers.js'

/** Runs `fn` and returns what it returned and the script calls it made, by script name prefix. */
async function counting<T>(fn: () => Promise<T>): Promise<{ value: T; calls: Record<string, number> }> {
  const calls: Record<string, number> = {}
  const count = (e: unknown) => {
    const command = (e as CommandEvent).command
    const m = /^EVALSHA (locks:lock-(acquire|release))/.exec(command)
    if (m) calls[m[1]!] = (calls[m[1]!] ?? 0) + 1
  }
  commandChannel.subscribe(count)
  try {
    return { value: await fn(), calls }
  } finally {
    commandChannel.unsubscribe(count)
  }
}

describe.each(['standalone', 'cluster', 'sentinel'] as const)('same-tick batching on %s', (kind) => {
  let conn: Connection
  let locks: LockManager
  const lockKey = (resource: string) => `${conn.keys.namespace}:lock:{${resource}}`
  /** Script calls expected for these resources: one on a single server, one per slot on a cluster. */
  const callsFor = (resources: string[]) =>
    kind === 'cluster' ? new Set(resources.map((r) => hashSlot(lockKey(r)))).size : 1

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    locks = new LockManager(conn)
    // Loaded on every master, so that no count below includes a NOSCRIPT retry (EVAL after EVALSHA).
    for (const m of await conn.masters()) {
      for (const lua of [lockAcquire, lockRelease]) await m.send(['SCRIPT', 'LOAD', lua])
    }
  })
  afterAll(async () => {
    await conn.close()
  })

  it('acquisitions and releases of one tick go in one script call (one per slot on a cluster)', async () => {
    const resources = Array.from({ length: 24 }, (_, i) => `b${i}`)
    const acquired = await counting(() => Promise.all(resources.map((r) => locks.acquire(r, { ttl: '5s' }))))
    expect(acquired.calls['locks:lock-acquire']).toBe(callsFor(resources))
    // A cluster batches keys of one slot only (each resource is its own hash tag, so mostly its own slot).
    if (kind !== 'cluster') expect(acquired.calls['locks:lock-acquire']).toBe(1)
    for (const [i, lock] of acquired.value.entries()) {
      expect(lock.resource).toBe(resources[i])
      expect(await locks.inspect(resources[i]!)).toMatchObject({ token: lock.token, holder: locks.id })
    }
    const released = await counting(() => Promise.all(acquired.value.map((l) => l.release())))
    expect(released.calls['locks:lock-release']).toBe(callsFor(resources))
    for (const r of resources) expect(await locks.inspect(r)).toBeNull()
  })

  it('a batch holds at most 64 requests: 150 same-tick acquisitions are three calls on one server', async () => {
    const resources = Array.from({ length: 150 }, (_, i) => `many${i}`)
    const { value, calls } = await counting(() => Promise.all(resources.map((r) => locks.tryAcquire(r))))
    expect(value.every((l) => l?.held === true)).toBe(true)
    expect(calls['locks:lock-acquire']).toBe(kind === 'cluster' ? callsFor(resources) : 3)
    await Promise.all(value.map((l) => l!.release()))
  })

  it('one tick, one resource: exactly one of the batch wins, and fencing tokens rise across rounds', async () => {
    let last = 0
    for (let round = 0; round < 5; round++) {
      const { value: results, calls } = await counting(() =>
        Promise.all(Array.from({ length: 12 }, () => locks.tryAcquire('contended', { ttl: '5s' }))),
      )
      expect(calls['locks:lock-acquire']).toBe(1)
      const winners = results.filter((l): l is Lock => l !== null)
      expect(winners).toHaveLength(1)
      expect(winners[0]!.token).toBeGreaterThan(last)
      last = winners[0]!.token
      await winners[0]!.release()
    }
    // Other resources in the same batch get their own increasing tokens.
    const first = await Promise.all(['t1', 't2', 't3'].map((r) => locks.acquire(r, { ttl: '5s' })))
    await Promise.all(first.map((l) => l.release()))
    const second = await Promise.all(['t1', 't2', 't3'].map((r) => locks.acquire(r, { ttl: '5s' })))
    for (const [i, l] of second.entries()) expect(l.token).toBeGreaterThan(first[i]!.token)
    await Promise.all(second.map((l) => l.release()))
  })

  it('fair waiters queued by one call get the lock in the order they asked', async () => {
    const holder = await locks.acquire('fair-batch', { ttl: '10s', fair: true })
    const order: number[] = []
    // Asked in one tick: their first attempts and their queue entries are made by one script call.
    const waiters = Array.from({ length: 8 }, (_, i) =>
      locks.acquire('fair-batch', { ttl: '5s', waitTimeout: '20s', fair: true }).then(async (l) => {
        order.push(i)
        await sleep(2)
        await l.release()
      }),
    )
    for (let n = 0; n < 400 && (await locks.inspect('fair-batch'))?.queued !== 8; n++) await sleep(5)
    expect((await locks.inspect('fair-batch'))?.queued).toBe(8)
    await holder.release()
    await Promise.all(waiters)
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })

  it('a request the server fails alone (wrong key type) rejects alone; the rest of its batch stands', async () => {
    const bad = 'wrongtype'
    await conn.send(['HSET', lockKey(bad), 'f', 'v'], { key: lockKey(bad) })
    try {
      // On a cluster the bad resource must share a batch: pick resources in its slot.
      const slot = hashSlot(lockKey(bad))
      const good: string[] = []
      for (let i = 0; good.length < 3; i++) {
        if (kind !== 'cluster' || hashSlot(lockKey(`same${i}`)) === slot) good.push(`same${i}`)
      }
      const resources = [good[0]!, bad, good[1]!, good[2]!]
      const { value, calls } = await counting(() =>
        Promise.allSettled(resources.map((r) => locks.acquire(r, { ttl: '5s' }))),
      )
      expect(calls['locks:lock-acquire']).toBe(1)
      expect(value.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
      expect((value[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_COMMAND' })
      expect(String((value[1] as PromiseRejectedResult).reason.message)).toMatch(/^\[@cache\/locks\]/)
      const held = value.filter((r): r is PromiseFulfilledResult<Lock> => r.status === 'fulfilled')
      for (const r of held) expect(r.value.held).toBe(true)
      await Promise.all(held.map((r) => r.value.release()))
      for (const r of good) expect(await locks.inspect(r)).toBeNull()
    } finally {
      await conn.send(['DEL', lockKey(bad)], { key: lockKey(bad) })
    }
  })

  it('a lost lease in a batch of releases is reported for that lock only', async () => {
    const held = await Promise.all(['l1', 'l2', 'l3'].map((r) => locks.acquire(r, { ttl: '5s' })))
    await conn.send(['DEL', lockKey('l2')], { key: lockKey('l2') })
    const results = await Promise.allSettled(held.map((l) => l.release()))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: 'E_LOCK_LOST',
      resource: 'l2',
    })
    for (const r of ['l1', 'l3']) expect(await locks.inspect(r)).toBeNull()
  })
})
