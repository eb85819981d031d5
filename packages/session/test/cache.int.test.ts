import type { Connection } from '@cache/client'
import { codeOfSync } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { SessionManager } from '../src/index.js'
import { call, cookie, sharedConnection } from './helpers.js'

/** Session data of about `n` characters of JSON. */
const dataOf = (i: number, n: number) => ({ i, text: 'x'.repeat(n), nested: { i, list: [i, i + 1] } })

describe.each(['standalone', 'cluster'] as const)('the decoded-value cache bound on %s', (kind) => {
  let conn: Connection
  const opened: Array<{ close(): Promise<void> }> = []
  const manager = (options: ConstructorParameters<typeof SessionManager>[1]) => {
    const m = new SessionManager(conn, { sweepInterval: false, ...options })
    opened.push(m)
    return m
  }

  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await Promise.all(opened.map((o) => o.close()))
    await conn.close()
  })

  it('rejects a bad cacheSize or cacheBytes with E_INVALID_OPTION', () => {
    expect(codeOfSync(() => new SessionManager(conn, { cacheSize: -1 }))).toBe('E_INVALID_OPTION')
    expect(codeOfSync(() => new SessionManager(conn, { cacheBytes: 1.5 }))).toBe('E_INVALID_OPTION')
    expect(codeOfSync(() => new SessionStore(conn, { cacheBytes: '1mb' as never }))).toBe('E_INVALID_OPTION')
  })

  it('the bytes and entries kept never pass cacheBytes and cacheSize, however many sessions are read', async () => {
    const budget = 40_000
    const m = manager({ namespace: 'cb1', cacheBytes: budget, cacheSize: 1000 })
    const ids: string[] = []
    let peak = 0
    for (let i = 0; i < 120; i++) {
      const s = await m.create({ tenant: 't', userId: `u${i % 7}`, data: dataOf(i, 100 + ((i * 37) % 3000)) })
      ids.push(s.id)
      const got = await m.get(s.id, { tenant: 't' })
      expect(got?.data).toEqual(dataOf(i, 100 + ((i * 37) % 3000)))
      const u = m.cacheUsage()
      expect(u.bytes).toBeLessThanOrEqual(budget)
      peak = Math.max(peak, u.bytes)
    }
    // The budget is used (not a cache that keeps nothing), and reads of old sessions stay right.
    expect(peak).toBeGreaterThan(budget / 2)
    for (const [i, id] of ids.entries()) {
      await m.update(id, (d) => ({ ...d, seen: i }), { tenant: 't' })
      expect((await m.get(id, { tenant: 't' }))?.data).toEqual({
        ...dataOf(i, 100 + ((i * 37) % 3000)),
        seen: i,
      })
      expect(m.cacheUsage().bytes).toBeLessThanOrEqual(budget)
    }
    // What a kept value counts covers its stored form (2 bytes a character): a value of ~3 KB counts >= 6 KB.
    const big = await m.create({ tenant: 't', userId: 'big', data: dataOf(0, 3000) })
    const before = m.cacheUsage()
    await m.get(big.id, { tenant: 't' })
    const after = m.cacheUsage()
    expect(after.entries === before.entries + 1 || after.bytes < before.bytes).toBe(true)
    const key = `${conn.keys.prefix}cb1:t:t:{${big.handle}}`
    const stored = Number(await conn.send(['STRLEN', key], { key }))
    if (after.entries === before.entries + 1)
      expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(2 * stored)
  })

  it('cacheSize bounds the entries; a value larger than half of cacheBytes is not kept', async () => {
    const m = manager({ namespace: 'cb2', cacheSize: 10 })
    for (let i = 0; i < 50; i++) {
      const s = await m.create({ tenant: 't', userId: 'u', data: dataOf(i, 10) })
      await m.get(s.id, { tenant: 't' })
      expect(m.cacheUsage().entries).toBeLessThanOrEqual(10)
    }
    expect(m.cacheUsage().entries).toBeGreaterThan(0)
    const small = manager({ namespace: 'cb3', cacheBytes: 4000 })
    const s = await small.create({ tenant: 't', userId: 'u', data: dataOf(1, 3000) })
    expect((await small.get(s.id, { tenant: 't' }))?.data).toEqual(dataOf(1, 3000))
    expect(small.cacheUsage()).toEqual({ entries: 0, bytes: 0 })
  })

  it('with 0 nothing is kept and every read returns what the default cache returns', async () => {
    const withCache = manager({ namespace: 'cb4' })
    const without = manager({ namespace: 'cb4', cacheSize: 0 })
    const noBytes = manager({ namespace: 'cb4', cacheBytes: 0 })
    const s = await withCache.create({ tenant: 't', userId: 'u', data: { n: 0 } })
    const strip = (x: Awaited<ReturnType<SessionManager['get']>> | undefined) =>
      x && { data: x.data, version: x.version, userId: x.userId, meta: x.meta }
    // Changes from all three managers (chunks appended past the compaction threshold) and reads from each.
    for (let i = 0; i < 20; i++) {
      const writer = [withCache, without, noBytes][i % 3]!
      await writer.update(s.id, (d) => ({ ...d, n: i, [`f${i % 4}`]: i }), { tenant: 't' })
      const [a, b, c] = await Promise.all(
        [withCache, without, noBytes].map((m) => m.get(s.id, { tenant: 't', touch: i % 2 === 0 })),
      )
      expect(strip(b)).toEqual(strip(a))
      expect(strip(c)).toEqual(strip(a))
      expect(a?.data.n).toBe(i)
    }
    expect(without.cacheUsage()).toEqual({ entries: 0, bytes: 0 })
    expect(noBytes.cacheUsage()).toEqual({ entries: 0, bytes: 0 })
    expect(withCache.cacheUsage().entries).toBe(1)
    await without.destroy(s.id, { tenant: 't' })
    expect(await withCache.get(s.id, { tenant: 't' })).toBeNull()
    expect(await without.get(s.id, { tenant: 't' })).toBeNull()
  })

  it('the express-session store with cacheBytes: 0 merges and reads as with the cache', async () => {
    const stores = [
      new SessionStore(conn, { namespace: 'cb5', tenant: 'x', sweepInterval: false }),
      new SessionStore(conn, { namespace: 'cb5', tenant: 'x', sweepInterval: false, cacheBytes: 0 }),
    ]
    opened.push(...stores)
    const [cached, plain] = stores as [SessionStore, SessionStore]
    await call((cb) => cached.set('sid', { cookie: cookie(), a: 0, b: 0 } as never, cb))
    for (let i = 1; i <= 12; i++) {
      const x = await call<Record<string, unknown>>((cb) => cached.get('sid', cb as never))
      const y = await call<Record<string, unknown>>((cb) => plain.get('sid', cb as never))
      expect({ ...y, cookie: undefined, __rev: undefined }).toEqual({
        ...x,
        cookie: undefined,
        __rev: undefined,
      })
      await Promise.all([
        call((cb) => cached.set('sid', { ...x, a: i } as never, cb)),
        call((cb) => plain.set('sid', { ...y, b: -i } as never, cb)),
      ])
    }
    const last = await call<Record<string, unknown>>((cb) => plain.get('sid', cb as never))
    expect([last.a, last.b]).toEqual([12, -12])
    expect(plain.cacheUsage()).toEqual({ entries: 0, bytes: 0 })
    expect(cached.cacheUsage().entries).toBe(1)
  })
})
