import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RefreshTokens, SessionManager, TokenInvalidError } from '../src/index.js'
import { codeOf, sharedConnection } from './helpers.js'

describe.each(['standalone', 'cluster'] as const)('RefreshTokens.revokeUser on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  const indexKey = (ns: string, tenant: string, userId: string) =>
    conn.keys.child(ns, 't', tenant, 'u').tagged(userId)

  it("revokes every family of the user (a rotate after it: E_TOKEN_INVALID), nobody else's", async () => {
    const refresh = new RefreshTokens(conn, { namespace: 'rv1' })
    const mine = await Promise.all([1, 2, 3].map(() => refresh.issue({ tenant: 't1', userId: 'u1' })))
    // A rotated family is revoked too (the index is by family, not by token).
    mine[0] = await refresh.rotate(mine[0]!.token)
    const other = await refresh.issue({ tenant: 't1', userId: 'u2' })
    const otherTenant = await refresh.issue({ tenant: 't2', userId: 'u1' })
    const idx = indexKey('rv1', 't1', 'u1')
    expect(Number(await conn.send(['ZCARD', idx], { key: idx }))).toBe(3)

    expect(await refresh.revokeUser('t1', 'u1')).toBe(3)
    for (const t of mine) {
      const err = await refresh.rotate(t.token).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TokenInvalidError)
      expect((err as TokenInvalidError).code).toBe('E_TOKEN_INVALID')
    }
    expect(Number(await conn.send(['ZCARD', idx], { key: idx }))).toBe(0)
    expect((await refresh.rotate(other.token)).userId).toBe('u2')
    expect((await refresh.rotate(otherTenant.token)).tenant).toBe('t2')
    expect(await refresh.revokeUser('t1', 'u1')).toBe(0)
    // A family issued after the revocation works.
    const again = await refresh.issue({ tenant: 't1', userId: 'u1' })
    expect((await refresh.rotate(again.token)).familyId).toBe(again.familyId)
  })

  it('the index costs O(the user’s families): revokeFamily leaves it, expired families are trimmed, it expires', async () => {
    const refresh = new RefreshTokens(conn, { namespace: 'rv2', ttl: 60_000, idleTimeout: 30_000 })
    const a = await refresh.issue({ tenant: 't', userId: 'u' })
    const b = await refresh.issue({ tenant: 't', userId: 'u' })
    const idx = indexKey('rv2', 't', 'u')
    expect(await refresh.revokeFamily(a.familyId)).toBe(true)
    expect(await refresh.revokeFamily(a.familyId)).toBe(false)
    expect((await conn.send<string[]>(['ZRANGE', idx, '0', '-1'], { key: idx })).map(String)).toEqual([
      b.familyId,
    ])
    // The index expires with its last family (plus the clock slack), never before it.
    const at = Number(await conn.send(['PEXPIRETIME', idx], { key: idx }))
    expect(at).toBeGreaterThanOrEqual(b.expiresAt)
    expect(at).toBeLessThanOrEqual(Date.now() + 60_000 + 5 * 60_000 + 1000)
    // An entry whose family is past its absolute deadline goes at the next issue.
    await conn.send(['ZADD', idx, String(Date.now() - 10 * 60_000), 'stale-family-id-000000'], { key: idx })
    await refresh.issue({ tenant: 't', userId: 'u' })
    expect(Number(await conn.send(['ZSCORE', idx, 'stale-family-id-000000'], { key: idx }))).toBe(0)
    expect(Number(await conn.send(['ZCARD', idx], { key: idx }))).toBe(2)
  })

  it('bad input: typed errors', async () => {
    const refresh = new RefreshTokens(conn, { namespace: 'rv3' })
    expect(await codeOf(refresh.revokeUser('a b', 'u'))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(refresh.revokeUser('t', ''))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(refresh.revokeFamily('x'))).toBe('E_TOKEN_INVALID')
  })

  it('SessionManager.revokeUser with refreshTokens logs the user out of sessions and refresh tokens', async () => {
    const sessions = new SessionManager(conn, { namespace: 'rv4', sweepInterval: false })
    const refresh = new RefreshTokens(conn, { namespace: 'rv4rt' })
    const keep = await sessions.create({ tenant: 't', userId: 'u' })
    const drop = await sessions.create({ tenant: 't', userId: 'u' })
    const tokens = await Promise.all([1, 2].map(() => refresh.issue({ tenant: 't', userId: 'u' })))
    const bystander = await refresh.issue({ tenant: 't', userId: 'v' })
    expect(await sessions.revokeUser('t', 'u', { except: keep.id, refreshTokens: refresh })).toBe(1)
    expect(await sessions.get(keep.id, { tenant: 't' })).not.toBeNull()
    expect(await sessions.get(drop.id, { tenant: 't' })).toBeNull()
    for (const t of tokens) expect(await codeOf(refresh.rotate(t.token))).toBe('E_TOKEN_INVALID')
    expect(await codeOf(refresh.rotate(bystander.token))).toBe('ok')
    // Without the option, refresh tokens are left alone (the signature and result are unchanged).
    const t3 = await refresh.issue({ tenant: 't', userId: 'u' })
    expect(await sessions.revokeUser('t', 'u')).toBe(1)
    expect(await codeOf(refresh.rotate(t3.token))).toBe('ok')
    await sessions.close()
  })
})
