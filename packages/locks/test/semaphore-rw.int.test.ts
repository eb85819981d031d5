import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ReadWriteLock, Semaphore } from '../src/index.js'
import { codeOf, sharedConnection, sleep } from './helpers.js'

describe.each(['standalone', 'cluster'] as const)('semaphore and read-write lock on %s', (kind) => {
  let conn: Connection

  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('a semaphore never exceeds its limit under contention, and the limit is reached', async () => {
    const sem = new Semaphore(conn, 'pool', { limit: 3 })
    let inside = 0
    let max = 0
    const tokens: number[] = []
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        for (let i = 0; i < 4; i++) {
          await sem.using({ ttl: '5s', waitTimeout: '20s' }, async (permit) => {
            tokens.push(permit.token)
            inside++
            max = Math.max(max, inside)
            expect(await sem.count()).toBeLessThanOrEqual(3)
            await sleep(Math.random() * 4)
            inside--
          })
        }
      }),
    )
    expect(max).toBe(3)
    expect(new Set(tokens).size).toBe(48)
    expect(await sem.count()).toBe(0)
  })

  it('races: 20 concurrent tryAcquire calls on a limit of 3, exactly 3 win', async () => {
    const sem = new Semaphore(conn, 'race', { limit: 3 })
    const results = await Promise.all(Array.from({ length: 20 }, () => sem.tryAcquire({ ttl: '5s' })))
    const winners = results.filter((p) => p !== null)
    expect(winners).toHaveLength(3)
    await Promise.all(winners.map((p) => p!.release()))
    expect(await sem.count()).toBe(0)
  })

  it('semaphore permits expire by the server clock; a lost permit reports E_LOCK_LOST', async () => {
    const sem = new Semaphore(conn, 'expiry', { limit: 1, retryInterval: 20 })
    const a = await sem.acquire({ ttl: 100 })
    expect(await sem.tryAcquire()).toBeNull()
    await sleep(180)
    expect(a.signal.aborted).toBe(true)
    const b = await sem.acquire({ ttl: '5s', waitTimeout: '1s' })
    expect(b.token).toBeGreaterThan(a.token)
    expect(await codeOf(a.release())).toBe('E_LOCK_LOST')
    expect(await codeOf(a.extend())).toBe('E_LOCK_LOST')
    await b.extend('5s')
    await b.release()
    const c = await sem.acquire({ ttl: 100, autoExtend: true })
    await sleep(250)
    expect(c.held).toBe(true)
    expect(await sem.count()).toBe(1)
    await c.release()
    const err = await sem.acquire({ waitTimeout: 0 }).then(
      (p) => p.release(),
      (e) => e,
    )
    expect(err).toBeUndefined()
  })

  it('read-write lock: readers share, writers exclude readers and writers', async () => {
    const rw = new ReadWriteLock(conn, 'doc')
    const r1 = await rw.read({ ttl: '5s' })
    const r2 = await rw.read({ ttl: '5s', waitTimeout: 0 })
    expect(r2.token).toBeGreaterThan(r1.token)
    expect(await codeOf(rw.write({ waitTimeout: 50 }))).toBe('E_LOCK_TIMEOUT')
    await r1.release()
    await r2.release()
    const w = await rw.write({ ttl: '5s', waitTimeout: '1s' })
    expect(await codeOf(rw.read({ waitTimeout: 50 }))).toBe('E_LOCK_TIMEOUT')
    expect(await codeOf(rw.write({ waitTimeout: 50 }))).toBe('E_LOCK_TIMEOUT')
    await w.extend('5s')
    await w.release()
    expect(await codeOf(w.release())).toBe('ok')
  })

  it('read-write lock under contention: never a writer with anyone else inside', async () => {
    const rw = new ReadWriteLock(conn, 'contended', { retryInterval: 50 })
    let readers = 0
    let writers = 0
    let maxReaders = 0
    let violations = 0
    const reader = async () => {
      for (let i = 0; i < 8; i++) {
        await rw.withRead({ ttl: '5s', waitTimeout: '20s' }, async () => {
          readers++
          maxReaders = Math.max(maxReaders, readers)
          if (writers > 0) violations++
          await sleep(Math.random() * 3)
          readers--
        })
      }
    }
    const writer = async () => {
      for (let i = 0; i < 5; i++) {
        await rw.withWrite({ ttl: '5s', waitTimeout: '20s' }, async () => {
          writers++
          if (writers > 1 || readers > 0) violations++
          await sleep(Math.random() * 3)
          writers--
        })
      }
    }
    await Promise.all([reader(), reader(), reader(), reader(), writer(), writer()])
    expect(violations).toBe(0)
    expect(maxReaders).toBeGreaterThan(1)
  })

  it('a waiting writer holds back new readers (no writer starvation)', async () => {
    const rw = new ReadWriteLock(conn, 'pref', { retryInterval: 30 })
    const r1 = await rw.read({ ttl: '5s' })
    const writing = rw.write({ ttl: '5s', waitTimeout: '5s' })
    await sleep(40)
    expect(await codeOf(rw.read({ waitTimeout: 20 }))).toBe('E_LOCK_TIMEOUT')
    await r1.release()
    const w = await writing
    await w.release()
    const r = await rw.read({ waitTimeout: '1s' })
    await r.release()
  })
})
