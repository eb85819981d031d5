import diagnostics from 'node:diagnostics_channel'
import type { Connection } from '@cache/client'
import { waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionManager, type SweepReport } from '../src/index.js'
import { sharedConnection, sleep } from './helpers.js'

describe.each(['standalone', 'cluster', 'sentinel'] as const)('the per-user index sweep on %s', (kind) => {
  let conn: Connection
  const managers: SessionManager[] = []
  const manager = (namespace: string, options: ConstructorParameters<typeof SessionManager>[1] = {}) => {
    const m = new SessionManager(conn, { namespace, sweepInterval: false, ...options })
    managers.push(m)
    return m
  }
  const zcard = async (key: string) => Number(await conn.send(['ZCARD', key], { key }))
  const index = (ns: string, tenant: string, user: string) =>
    conn.keys.child(ns, 't', tenant, 'u').tagged(user)
  const sweepKey = (ns: string) => conn.keys.child(ns).tagged('sweep')

  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()))
    await conn.close()
  })

  it('removes index entries of expired sessions, keeps live ones, drops empty indexes from the sweep', async () => {
    const short = manager('sw1', { idleTimeout: 300, absoluteTimeout: '1h' })
    const long = manager('sw1', { idleTimeout: '10m', absoluteTimeout: '1h' })
    await short.create({ tenant: 't1', userId: 'gone' })
    await short.create({ tenant: 't1', userId: 'gone' })
    await short.create({ tenant: 't1', userId: 'mixed' })
    const kept = await long.create({ tenant: 't1', userId: 'mixed' })
    await short.create({ tenant: 't2', userId: 'other' })
    const idx = index('sw1', 't1', 'mixed')
    expect(Number(await conn.send(['PEXPIRETIME', idx], { key: idx }))).toBeGreaterThan(Date.now())
    await sleep(450)
    // Redis expired the sessions; their index entries are still there until swept.
    expect(await zcard(index('sw1', 't1', 'gone'))).toBe(2)
    expect(await zcard(idx)).toBe(2)

    const report = await short.sweep()
    expect(report).toMatchObject({ users: 3, checked: 5, removed: 4, pending: false })
    expect(report.live).toBe(4)
    expect(await zcard(index('sw1', 't1', 'gone'))).toBe(0)
    expect(await zcard(index('sw1', 't2', 'other'))).toBe(0)
    expect((await conn.send<string[]>(['ZRANGE', idx, '0', '-1'], { key: idx })).map(String)).toEqual([
      kept.handle,
    ])
    // Only the index with a live session stays in the sweep, due when that session may expire.
    const sk = sweepKey('sw1')
    const due = (await conn.send<string[]>(['ZRANGE', sk, '0', '-1', 'WITHSCORES'], { key: sk })).map(String)
    expect(due[0]).toBe('t1:mixed')
    expect(Math.abs(Number(due[1]) - kept.expiresAt)).toBeLessThan(50)
    expect(due).toHaveLength(2)
    expect((await short.stats('t1')).activeSessions).toBe(1)
    // Nothing due: the next sweep does no index work.
    expect(await short.sweep()).toMatchObject({ users: 0, checked: 0, removed: 0 })
  })

  it('an index visited early (its sessions were touched) loses nothing and is rescheduled', async () => {
    // Wide margins: a touch is a read and a PEXPIREAT, two round trips, on a loaded machine.
    const m = manager('sw5', { idleTimeout: 1500, absoluteTimeout: '1h' })
    const s = await m.create({ tenant: 't1', userId: 'busy' })
    await sleep(300)
    const expiresAt = await m.touch(s.id, { tenant: 't1' })
    expect(expiresAt).not.toBeNull()
    await sleep(Math.max(0, s.expiresAt - Date.now() + 50)) // past the first expiry the sweep knew of
    expect(Date.now()).toBeLessThan(expiresAt!) // and before the touched one
    expect(await m.sweep()).toMatchObject({ users: 1, checked: 1, removed: 0 })
    const sk = sweepKey('sw5')
    expect(
      Math.abs(Number(await conn.send(['ZSCORE', sk, 't1:busy'], { key: sk })) - expiresAt!),
    ).toBeLessThan(50)
    expect(await zcard(index('sw5', 't1', 'busy'))).toBe(1)
  })

  it('bounded work per sweep: at most sweepBatch indexes, the rest on the next sweeps', async () => {
    const m = manager('sw2', { idleTimeout: 200, absoluteTimeout: '1h', sweepBatch: 2 })
    for (let i = 0; i < 5; i++) await m.create({ tenant: 't1', userId: `u${i}` })
    await sleep(350)
    const reports: SweepReport[] = []
    for (let i = 0; i < 3; i++) reports.push(await m.sweep())
    expect(reports.map((r) => [r.users, r.removed, r.pending])).toEqual([
      [2, 2, true],
      [2, 2, true],
      [1, 1, false],
    ])
    expect(await zcard(sweepKey('sw2'))).toBe(0)
  })

  it('runs by itself every sweepInterval and reports on cache:session:sweep', async () => {
    const reports: SweepReport[] = []
    const listener = (r: unknown) => {
      if ((r as SweepReport).removed > 0) reports.push(r as SweepReport)
    }
    diagnostics.subscribe('cache:session:sweep', listener)
    try {
      const m = manager('sw3', { idleTimeout: 200, absoluteTimeout: '1h', sweepInterval: 150 })
      await m.create({ tenant: 't1', userId: 'auto' })
      await m.create({ tenant: 't1', userId: 'auto' })
      await waitFor(
        'a periodic sweep reported the removals',
        () => reports.reduce((a, r) => a + r.removed, 0) === 2,
        { timeoutMs: 5_000, intervalMs: 20 },
      )
      expect(await zcard(index('sw3', 't1', 'auto'))).toBe(0)
      await m.close()
      await m.close()
    } finally {
      diagnostics.unsubscribe('cache:session:sweep', listener)
    }
  })

  it('a periodic sweep that fails reports { error } and keeps going; close stops it', async () => {
    const errors: unknown[] = []
    const listener = (r: unknown) => {
      if ((r as { error?: unknown }).error) errors.push((r as { error: unknown }).error)
    }
    diagnostics.subscribe('cache:session:sweep', listener)
    const own = await sharedConnection(kind)
    const m = new SessionManager(own, { namespace: 'sw4', sweepInterval: 100 })
    await own.close()
    try {
      await waitFor('two failed sweeps reported', () => errors.length >= 2, { timeoutMs: 5_000 })
      expect(errors[0]).toMatchObject({ code: 'E_CLOSED' })
    } finally {
      await m[Symbol.asyncDispose]()
      diagnostics.unsubscribe('cache:session:sweep', listener)
    }
  })

  it('sweepInterval and sweepBatch are validated', () => {
    expect(() => new SessionManager(conn, { sweepInterval: 5 })).toThrow(/sweepInterval/)
    expect(() => new SessionManager(conn, { sweepBatch: 0 })).toThrow(/sweepBatch/)
  })
})
