import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { SessionManager } from '../src/index.js'
import { sharedConnection } from './helpers.js'

describe.each(['standalone', 'cluster'] as const)('export / import on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('export then import restores the sessions under the same ids', async () => {
    const from = new SessionManager(conn, { namespace: 'src' })
    const a = await from.create({ tenant: 't1', userId: 'u1', data: { cart: [1, 2] }, meta: { ip: 'x' } })
    const b = await from.create({ tenant: 't1', userId: 'u2' })
    const lines: string[] = []
    for await (const line of from.export({ tenant: 't1' })) lines.push(line)
    expect(lines).toHaveLength(2)
    expect(lines.join('\n')).not.toContain(a.id)
    const to = new SessionManager(conn, { namespace: 'dst' })
    expect(await to.import([...lines, 'not json', ''])).toEqual({ imported: 2, skipped: 1 })
    const got = await to.get(a.id, { tenant: 't1' })
    expect(got).toMatchObject({
      userId: 'u1',
      data: { cart: [1, 2] },
    })
    // the absolute deadline is kept (up to the client/server clock offset)
    expect(Math.abs(got!.absoluteExpiresAt - a.absoluteExpiresAt)).toBeLessThan(1000)
    expect(await to.get(b.id, { tenant: 't1' })).not.toBeNull()
    expect(await to.listByUser('t1', 'u1')).toHaveLength(1)
  })

  it('imports connect-redis sess:<sid> values; the express-session store then reads them', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const past = new Date(Date.now() - 1000).toISOString()
    const value = (extra: object, expires = future) =>
      JSON.stringify({ cookie: { originalMaxAge: 3_600_000, expires, httpOnly: true, path: '/' }, ...extra })
    const lines = [
      JSON.stringify({ key: 'sess:abc123', value: value({ userId: 'amy', n: 1 }) }),
      JSON.stringify({ sid: 'def456', sess: JSON.parse(value({ n: 2 })) }),
      JSON.stringify({ key: 'sess:old', value: value({ n: 3 }, past) }),
      JSON.stringify({ key: 'sess:bad', value: '{nope' }),
    ]
    const mgr = new SessionManager(conn, { namespace: 'mig' })
    const result = await mgr.import(lines, { tenant: 'web', userId: (s) => s.userId as string | undefined })
    expect(result).toEqual({ imported: 2, skipped: 2 })
    const store = new SessionStore(conn, { namespace: 'mig', tenant: 'web' })
    const sess = await new Promise<Record<string, unknown> | null>((resolve, reject) =>
      store.get('abc123', (err, s) => (err ? reject(err) : resolve(s as never))),
    )
    expect(sess).toMatchObject({ userId: 'amy', n: 1 })
    expect(await mgr.listByUser('web', 'amy')).toHaveLength(1)
    expect(await store.revokeUser('amy')).toBe(1)
  })

  it('skips lines it cannot restore: expired own lines, no sid, a value that is not an object', async () => {
    const mgr = new SessionManager(conn, { namespace: 'mig2', idleTimeout: '10m', sweepInterval: false })
    const expired = {
      v: 1,
      tenant: 't1',
      handle: 'h'.repeat(43),
      userId: 'u',
      data: {},
      expiresAt: Date.now() - 1,
      absoluteExpiresAt: Date.now() + 60_000,
      idleTimeoutMs: 60_000,
    }
    const lines = [
      JSON.stringify(expired),
      JSON.stringify({ value: '{}' }),
      JSON.stringify({ key: 'sess:num', value: '5' }),
      JSON.stringify({ key: 'sess:nocookie', value: JSON.stringify({ n: 7 }) }),
    ]
    expect(await mgr.import(lines)).toEqual({ imported: 1, skipped: 3 })
    // No cookie.expires: the idle timeout applies; no tenant option: 'default'.
    const got = await mgr.get('nocookie', { tenant: 'default' })
    expect(got?.data).toEqual({ n: 7 })
    expect(got!.expiresAt - got!.lastSeenAt).toBe(600_000)
    await mgr.close()
  })
})
