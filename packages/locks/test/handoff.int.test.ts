import { type CommandEvent, type Connection, commandChannel } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LockManager } from '../src/index.js'
import { codeOf, sharedConnection, sleep } from './helpers.js'

/** Counts the lock-acquire script calls made while `fn` runs. */
async function acquireCalls(fn: () => Promise<void>): Promise<number> {
  let calls = 0
  const count = (e: unknown) => {
    if ((e as CommandEvent).command.startsWith('EVALSHA locks:lock-acquire')) calls++
  }
  commandChannel.subscribe(count)
  try {
    await fn()
  } finally {
    commandChannel.unsubscribe(count)
  }
  return calls
}

/** A connection of the same namespace whose waiters never hear a wake-up (their subscriptions are no-ops). */
async function deafTwin(kind: 'standalone' | 'cluster', conn: Connection): Promise<Connection> {
  const twin = await sharedConnection(kind, { namespace: conn.keys.namespace })
  const sub = (await twin.subscriber()) as unknown as Record<string, unknown>
  sub.subscribe = async () => {}
  sub.sSubscribe = async () => {}
  return twin
}

describe.each(['standalone', 'cluster'] as const)('direct handoff on %s', (kind) => {
  let conn: Connection
  let locks: LockManager

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    locks = new LockManager(conn)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('a release gives the lock to the waiting acquisition itself: no acquire attempt after the release', async () => {
    const waiterSide = new LockManager(conn, { retryInterval: 60_000, id: 'waiter-side' })
    const holder = await locks.acquire('direct', { ttl: '30s' })
    const waiting = waiterSide.acquire('direct', { ttl: '5s', waitTimeout: '10s' })
    await sleep(100)
    let next: Awaited<typeof waiting> | undefined
    const calls = await acquireCalls(async () => {
      await holder.release()
      next = await waiting
    })
    expect(calls).toBe(0)
    expect(next!.token).toBeGreaterThan(holder.token)
    expect(next!.held).toBe(true)
    // The lease is timed from before the release, never longer than its ttl.
    expect(next!.remainingMs).toBeGreaterThan(0)
    expect(next!.remainingMs).toBeLessThanOrEqual(5_000)
    expect(await locks.inspect('direct')).toMatchObject({ holder: 'waiter-side', token: next!.token })
    expect(await locks.tryAcquire('direct')).toBeNull()
    await next!.release()
    const free = await locks.tryAcquire('direct')
    expect(free).not.toBeNull()
    expect(free!.token).toBeGreaterThan(next!.token)
    await free!.release()
  })

  it('fair waiters are handed the lock in arrival order, each with a higher token', async () => {
    const holder = await locks.acquire('direct-fair', { ttl: '30s', fair: true })
    const order: number[] = []
    const tokens: number[] = []
    const waiters = Array.from({ length: 5 }, async (_, i) => {
      await sleep(20 * i)
      const l = await locks.acquire('direct-fair', { ttl: '5s', waitTimeout: '10s', fair: true })
      order.push(i)
      tokens.push(l.token)
      await sleep(5)
      await l.release()
    })
    await sleep(200)
    await holder.release()
    await Promise.all(waiters)
    expect(order).toEqual([0, 1, 2, 3, 4])
    expect(tokens[0]!).toBeGreaterThan(holder.token)
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!)
  })

  it('a waiter that missed its handoff notification finds the lock handed to it on its next attempt', async () => {
    const twin = await deafTwin(kind, conn)
    try {
      const deaf = new LockManager(twin, { retryInterval: 150 })
      const holder = await locks.acquire('missed', { ttl: '30s' })
      const waiting = deaf.acquire('missed', { ttl: '5s', waitTimeout: '10s' })
      await sleep(100)
      await holder.release()
      // Handed over on the server already: nobody else can take it meanwhile.
      expect(await locks.tryAcquire('missed')).toBeNull()
      const next = await waiting
      expect(next.token).toBeGreaterThan(holder.token)
      expect(next.remainingMs).toBeGreaterThan(0)
      expect(next.remainingMs).toBeLessThanOrEqual(5_000)
      expect((await locks.inspect('missed'))?.token).toBe(next.token)
      await next.release()
      expect(await locks.inspect('missed')).toBeNull()
    } finally {
      await twin.close()
    }
  })

  it('a waiter that gives up (abort) after a handoff it never heard of passes the lock on', async () => {
    const twin = await deafTwin(kind, conn)
    try {
      const deaf = new LockManager(twin, { retryInterval: 60_000 })
      const holder = await locks.acquire('gave-up', { ttl: '30s' })
      const ac = new AbortController()
      const waiting = deaf.acquire('gave-up', { ttl: '20s', waitTimeout: '10s', signal: ac.signal })
      await sleep(100)
      await holder.release()
      const handed = await locks.inspect('gave-up')
      expect(handed?.holder).toBe(deaf.id)
      ac.abort(new Error('shutdown'))
      expect(await codeOf(waiting)).toBe('E_LOCK_ABORTED')
      // Its give-up released the lock it was handed: free at once, not after its 20 s lease.
      const free = await locks.tryAcquire('gave-up')
      expect(free).not.toBeNull()
      expect(free!.token).toBeGreaterThan(handed!.token)
      await free!.release()
    } finally {
      await twin.close()
    }
  })

  it('a waiter joining a channel this process already listens on makes one attempt, not two', async () => {
    const quiet = new LockManager(conn, { retryInterval: 60_000 })
    const holder = await quiet.acquire('joined', { ttl: '30s' })
    const first = quiet.acquire('joined', { ttl: '5s', waitTimeout: '10s' })
    await sleep(100)
    let second: ReturnType<typeof quiet.acquire> | undefined
    const calls = await acquireCalls(async () => {
      second = quiet.acquire('joined', { ttl: '5s', waitTimeout: '10s' })
      await sleep(100)
    })
    // Its first attempt only: the channel was subscribed before it and no message went unheard since.
    expect(calls).toBe(1)
    await holder.release()
    const a = await first
    await a.release()
    const b = await second!
    expect(b.token).toBeGreaterThan(a.token)
    await b.release()
  })

  it.each([
    ['a generated', undefined],
    ['its own', 'job-9'],
  ])(
    'a waiter with %s owner that times out leaves the waiters: the release frees the lock at once',
    async (_, owner) => {
      const holder = await locks.acquire(`left-${owner}`, { ttl: '30s' })
      const waiting = locks.acquire(`left-${owner}`, { ttl: '5s', waitTimeout: 150, owner })
      expect(await codeOf(waiting)).toBe('E_LOCK_TIMEOUT')
      await holder.release()
      // No live waiter entry left: no handoff, no reservation.
      const free = await locks.tryAcquire(`left-${owner}`)
      expect(free).not.toBeNull()
      await free!.release()
    },
  )

  it('a waiter with its own owner token is woken instead (no direct handoff), and a newcomer cannot barge', async () => {
    const holder = await locks.acquire('own-owner', { ttl: '30s' })
    const waiting = locks.acquire('own-owner', { ttl: '5s', waitTimeout: '10s', owner: 'job-7' })
    await sleep(100)
    await holder.release()
    expect(await locks.tryAcquire('own-owner')).toBeNull()
    const next = await waiting
    expect(next.token).toBeGreaterThan(holder.token)
    expect((await locks.inspect('own-owner'))?.owner).toBe('job-7')
    await next.release()
  })
})
