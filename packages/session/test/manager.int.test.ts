import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionManager } from '../src/index.js'
import { codeOf, sharedConnection, sleep } from './helpers.js'

describe.each(['standalone', 'cluster', 'sentinel'] as const)('SessionManager on %s', (kind) => {
  let conn: Connection
  let sessions: SessionManager

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    sessions = new SessionManager(conn, { idleTimeout: '10m', absoluteTimeout: '1h', maxPerUser: 3 })
  })
  afterAll(async () => {
    await sessions.close()
    await sessions.close()
    await conn.close()
  })

  it('creates, reads, updates and destroys; another tenant never sees it', async () => {
    const s = await sessions.create({
      tenant: 't1',
      userId: 'u1',
      data: { cart: [] },
      meta: { ip: '10.0.0.1' },
    })
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(s.expiresAt).toBe(s.createdAt + 600_000)
    expect(await sessions.get(s.id, { tenant: 't2' })).toBeNull()
    const got = await sessions.get(s.id, { tenant: 't1' })
    expect(got).toMatchObject({
      id: s.id,
      userId: 'u1',
      data: { cart: [] },
      meta: { ip: '10.0.0.1' },
      version: 1,
    })
    const next = await sessions.update(s.id, (d) => ({ ...d, cart: [1] }), { tenant: 't1' })
    expect(next?.data).toEqual({ cart: [1] })
    expect(next?.version).toBe(2)
    expect((await sessions.get(s.id, { tenant: 't1' }))?.data).toEqual({ cart: [1] })
    expect(await sessions.destroy(s.id, { tenant: 't1' })).toBe(true)
    expect(await sessions.destroy(s.id, { tenant: 't1' })).toBe(false)
    expect(await sessions.get(s.id, { tenant: 't1' })).toBeNull()
    expect(await sessions.update(s.id, (d) => d, { tenant: 't1' })).toBeNull()
  })

  it('the Redis key holds the hash of the id, never the id', async () => {
    const s = await sessions.create({ tenant: 't1', userId: 'u-keys' })
    const key = `${conn.keys.prefix}sess:t:t1:{${s.handle}}`
    expect(Number(await conn.send(['EXISTS', key], { key }))).toBe(1)
    expect(s.handle).not.toContain(s.id)
    expect(sessions.handleOf(s.id)).toBe(s.handle)
  })

  it('parallel updates of different fields both survive (compare-and-set retry)', async () => {
    const s = await sessions.create({ tenant: 't1', userId: 'u-par', data: { n: 0 } })
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sessions.update(s.id, async (d) => ({ ...d, [`f${i}`]: i, n: (d.n as number) + 1 }), {
          tenant: 't1',
        }),
      ),
    )
    const got = await sessions.get(s.id, { tenant: 't1' })
    expect(got?.data.n).toBe(10)
    for (let i = 0; i < 10; i++) expect(got?.data[`f${i}`]).toBe(i)
  })

  it('lists and revokes a user’s sessions through the index, keeps maxPerUser', async () => {
    const a = await sessions.create({ tenant: 't1', userId: 'u-idx', meta: { device: 'a' } })
    const b = await sessions.create({ tenant: 't1', userId: 'u-idx', meta: { device: 'b' } })
    const c = await sessions.create({ tenant: 't1', userId: 'u-idx', meta: { device: 'c' } })
    const d = await sessions.create({ tenant: 't1', userId: 'u-idx', meta: { device: 'd' } })
    expect(await sessions.get(a.id, { tenant: 't1' })).toBeNull() // evicted: the oldest of 4 > maxPerUser 3
    const list = await sessions.listByUser('t1', 'u-idx')
    expect(list.map((x) => x.meta.device).sort()).toEqual(['b', 'c', 'd'])
    expect(JSON.stringify(list)).not.toContain(b.id)
    expect(await sessions.revoke('t1', list.find((x) => x.meta.device === 'b')!.handle)).toBe(true)
    expect(await sessions.get(b.id, { tenant: 't1' })).toBeNull()
    expect(await sessions.revokeUser('t1', 'u-idx', { except: d.id })).toBe(1)
    expect(await sessions.get(c.id, { tenant: 't1' })).toBeNull()
    expect(await sessions.get(d.id, { tenant: 't1' })).not.toBeNull()
    expect((await sessions.listByUser('t1', 'u-idx')).length).toBe(1)
  })

  it('regenerate moves the data to a new id and kills the old one', async () => {
    const s = await sessions.create({ tenant: 't1', userId: 'u-regen', data: { x: 1 } })
    const r = await sessions.regenerate(s.id, { tenant: 't1' })
    expect(r?.id).not.toBe(s.id)
    expect(r?.data).toEqual({ x: 1 })
    expect(await sessions.get(s.id, { tenant: 't1' })).toBeNull()
    expect(await sessions.regenerate(s.id, { tenant: 't1' })).toBeNull()
  })

  it('stats counts creations, revocations, active sessions and users', async () => {
    const before = await sessions.stats('t-stats')
    const s = await sessions.create({ tenant: 't-stats', userId: 'a' })
    await sessions.create({ tenant: 't-stats', userId: 'b' })
    await sessions.destroy(s.id, { tenant: 't-stats' })
    const after = await sessions.stats('t-stats')
    expect(after.creations - before.creations).toBe(2)
    expect(after.revocations - before.revocations).toBe(1)
    expect(after.activeSessions).toBe(1)
    expect(after.activeUsers).toBe(2)
    expect(await sessions.tenants()).toContain('t-stats')
  })

  it('touch extends idle up to, never past, the absolute deadline; expired is never revived', async () => {
    const short = new SessionManager(conn, { namespace: 'short', idleTimeout: 400, absoluteTimeout: 900 })
    const s = await short.create({ tenant: 't1', userId: 'u-t' })
    let last = s.expiresAt
    for (let i = 0; i < 3; i++) {
      await sleep(200)
      const exp = await short.touch(s.id, { tenant: 't1' })
      expect(exp).not.toBeNull()
      expect(exp!).toBeGreaterThanOrEqual(last)
      expect(exp!).toBeLessThanOrEqual(s.absoluteExpiresAt)
      last = exp!
    }
    const key = `${conn.keys.prefix}short:t:t1:{${s.handle}}`
    const pexpiretime = Number(await conn.send(['PEXPIRETIME', key], { key }))
    expect(pexpiretime).toBe(last)
    await sleep(s.absoluteExpiresAt - Date.now() + 100)
    expect(await short.touch(s.id, { tenant: 't1' })).toBeNull()
    expect(await short.get(s.id, { tenant: 't1', touch: true })).toBeNull()
    // idle expiry without touches
    const idle = await short.create({ tenant: 't1', userId: 'u-t' })
    await sleep(500)
    expect(await short.touch(idle.id, { tenant: 't1' })).toBeNull()
  })

  it('update gives up with E_SESSION_CONFLICT after maxRetries lost races', async () => {
    const tight = new SessionManager(conn, { maxRetries: 2, sweepInterval: false })
    const s = await tight.create({ tenant: 't1', userId: 'u-conflict', data: { n: 0 } })
    let runs = 0
    const err = await tight
      .update(
        s.id,
        async (d) => {
          runs++
          // A parallel writer gets in between every read and write of this update.
          await sessions.update(s.id, (x) => ({ ...x, other: runs }), { tenant: 't1' })
          return { ...d, n: 1 }
        },
        { tenant: 't1' },
      )
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'E_SESSION_CONFLICT', attempts: 2 })
    expect(runs).toBe(2)
    expect((await tight.get(s.id, { tenant: 't1' }))?.data).toEqual({ n: 0, other: 2 })
    await tight[Symbol.asyncDispose]()
    expect(tight.closed).toBe(true)
  })

  it('bad input gives typed errors', async () => {
    expect(await codeOf(sessions.create(null as never))).toBe('E_INVALID_ARGUMENT')
    // Fields JSON cannot hold (undefined, functions) are left out, as JSON.stringify does.
    const skip = await sessions.create({
      tenant: 't1',
      userId: 'u-skip',
      data: { a: 1, u: undefined, f: () => 1 },
    })
    expect((await sessions.get(skip.id, { tenant: 't1' }))?.data).toEqual({ a: 1 })
    expect(await codeOf(sessions.create({ tenant: 'bad tenant', userId: 'u' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(sessions.create({ tenant: 't', userId: '' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(sessions.create({ tenant: 't', userId: 'u', data: [] as never }))).toBe(
      'E_INVALID_ARGUMENT',
    )
    expect(
      await codeOf(sessions.create({ tenant: 't', userId: 'u', data: { big: 'x'.repeat(70_000) } })),
    ).toBe('E_INVALID_ARGUMENT')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(await codeOf(sessions.create({ tenant: 't', userId: 'u', data: cyclic }))).toBe(
      'E_INVALID_ARGUMENT',
    )
    expect(await codeOf(sessions.get(42 as never, { tenant: 't' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(sessions.revoke('t', 'nope'))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(sessions.update('x', 'fn' as never, { tenant: 't' }))).toBe('E_INVALID_ARGUMENT')
    expect(() => new SessionManager(conn, { idleTimeout: 'soon' as never })).toThrow(/idleTimeout/)
    expect(() => new SessionManager(conn, { prefix: 'x' } as never)).toThrow(/prefix/)
  })
})
