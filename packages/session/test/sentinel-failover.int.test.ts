import { randomBytes } from 'node:crypto'
import { type Connection, connect, isCacheError } from '@cache/client'
import { Keyring } from '@cache/security'
import { type SentinelTopology, startSentinel, uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RefreshTokens, type Session, SessionManager } from '../src/index.js'

/** How long one operation may take while the master moves: the round-trip timeout plus retries, never a hang. */
const BOUND_MS = 5_000

describe('Sentinel failover (own topology)', () => {
  let topology: SentinelTopology
  let conn: Connection
  let sessions: SessionManager
  let tokens: RefreshTokens

  beforeAll(async () => {
    topology = await startSentinel({ replicas: 1, sentinels: 3 })
    conn = await connect({
      sentinel: {
        name: topology.name,
        sentinels: topology.sentinels.map((s) => ({ host: s.host, port: s.port })),
      },
      namespace: uniquePrefix('session'),
      commandTimeout: '500ms',
      reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
    })
    conn.on('error', () => {})
    const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
    sessions = new SessionManager(conn, { encryption: keyring, idleTimeout: '10m', absoluteTimeout: '1h' })
    tokens = new RefreshTokens(conn)
  })
  afterAll(async () => {
    await sessions?.close()
    await conn?.close()
    await topology?.stop()
  })

  it('sessions written before SENTINEL FAILOVER are readable after; typed errors during it, no hang', async () => {
    const before: Session[] = []
    for (let i = 0; i < 20; i++) {
      before.push(await sessions.create({ tenant: 't1', userId: `u${i % 4}`, data: { n: i }, meta: { i } }))
    }
    const token = await tokens.issue({ tenant: 't1', userId: 'u0' })
    // Acknowledged by the replica, so the promoted node has them (asynchronous replication otherwise).
    expect(Number(await conn.send(['WAIT', '1', '5000']))).toBe(1)

    // Traffic during the failover: every call settles within BOUND_MS, with a value or a typed CacheError.
    let stop = false
    const codes = new Map<string, number>()
    let ok = 0
    let slowest = 0
    const traffic = (async () => {
      let i = 0
      while (!stop) {
        const s = before[i++ % before.length]!
        const started = Date.now()
        const op =
          i % 3 === 0
            ? sessions.update(s.id, (d) => ({ ...d, seen: i }), { tenant: 't1' })
            : i % 3 === 1
              ? sessions.get(s.id, { tenant: 't1', touch: true })
              : sessions.create({ tenant: 't1', userId: 'during', data: { i } })
        let hang: NodeJS.Timeout | undefined
        const outcome = await Promise.race([
          op.then(
            () => 'ok',
            (err: unknown) => (isCacheError(err) ? err.code : `untyped: ${String(err)}`),
          ),
          new Promise<string>((r) => {
            hang = setTimeout(() => r('hang'), BOUND_MS)
          }),
        ])
        clearTimeout(hang)
        slowest = Math.max(slowest, Date.now() - started)
        if (outcome === 'ok') ok++
        else codes.set(outcome, (codes.get(outcome) ?? 0) + 1)
        await new Promise((r) => setTimeout(r, 10))
      }
    })()

    const oldMaster = await topology.master()
    const newMaster = await topology.failover()
    expect(newMaster.port).not.toBe(oldMaster.port)
    await waitFor(
      'a session write succeeds on the new master',
      () =>
        sessions
          .update(before[0]!.id, (d) => ({ ...d, after: true }), { tenant: 't1' })
          .then(
            (s) => s !== null,
            () => false,
          ),
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    stop = true
    await traffic

    expect(codes.has('hang')).toBe(false)
    expect([...codes.keys()].filter((c) => c.startsWith('untyped'))).toEqual([])
    for (const code of codes.keys()) expect(['E_UNAVAILABLE', 'E_TIMEOUT', 'E_COMMAND']).toContain(code)
    expect(slowest).toBeLessThan(BOUND_MS)
    expect(ok).toBeGreaterThan(0)

    // Everything written before is there, decrypts, and the per-user index still lists and revokes it.
    for (const s of before) {
      const got = await sessions.get(s.id, { tenant: 't1' })
      expect(got?.data.n).toBe(s.data.n)
      expect(got?.meta).toEqual(s.meta)
    }
    expect((await sessions.listByUser('t1', 'u1')).map((x) => x.handle).sort()).toEqual(
      before
        .filter((s) => s.userId === 'u1')
        .map((s) => s.handle)
        .sort(),
    )
    expect(await sessions.revokeUser('t1', 'u2')).toBe(5)
    expect(await sessions.get(before[2]!.id, { tenant: 't1' })).toBeNull()
    expect((await tokens.rotate(token.token)).familyId).toBe(token.familyId)
  }, 90_000)
})
