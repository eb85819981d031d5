import type { Connection } from '@cache/client'
import { waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { SessionManager } from '../src/index.js'
import { SessionKeys } from '../src/keys.js'
import { sharedConnection, sleep } from './helpers.js'

type Sess = Record<string, unknown> & { cookie: Record<string, unknown> }

const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))
const cookie = (maxAge = 600_000) => ({
  originalMaxAge: maxAge,
  expires: new Date(Date.now() + maxAge).toISOString(),
  path: '/',
})
const rolled = (sess: Sess): Sess => ({
  ...sess,
  cookie: { ...sess.cookie, expires: new Date(Date.now() + 600_000).toISOString() },
})

describe.each(['standalone', 'cluster'] as const)('the stored value on %s', (kind) => {
  let conn: Connection
  let keys: SessionKeys
  let store: SessionStore
  let manager: SessionManager
  const load = (sid: string, s = store) => call<Sess | null>((cb) => s.get(sid, cb as never))
  const save = (sid: string, sess: Sess, s = store) => call((cb) => s.set(sid, sess as never, cb))
  const touch = (sid: string, sess: Sess, s = store) => call((cb) => s.touch(sid, sess as never, cb))
  const keyOf = (sid: string, tenant = 'lay') => keys.session(tenant, store.sessions.handleOf(sid))
  const lines = async (sid: string) =>
    String(await conn.send(['GET', keyOf(sid)], { key: keyOf(sid) })).split('\n')

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    keys = new SessionKeys(conn.keys.child('sess'))
    store = new SessionStore(conn, { tenant: 'lay', sweepInterval: false })
    manager = new SessionManager(conn, { sweepInterval: false })
  })
  afterAll(async () => {
    await store.close()
    await manager.close()
    await conn.close()
  })

  it('a change appends a chunk; after 8 the value is compacted, data and expiry intact', async () => {
    await save('c1', { cookie: cookie(), n: 0, keep: 'k', drop: 1 })
    for (let n = 1; n <= 20; n++) {
      const sess = (await load('c1'))!
      const next: Sess = { ...rolled(sess), n }
      if (n === 5) delete next.drop
      await save('c1', next)
      expect((await lines('c1')).length).toBeLessThanOrEqual(9)
    }
    expect(await load('c1')).toMatchObject({ n: 20, keep: 'k' })
    expect(await load('c1')).not.toHaveProperty('drop')
    expect((await manager.get('c1', { tenant: 'lay' }))!.version).toBe(21)
  })

  it('parallel saves of a session due for compaction all survive (a lost compare-and-set appends)', async () => {
    await save('c2', { cookie: cookie(), base: 0 })
    for (let n = 1; n < 8; n++) await save('c2', { ...rolled((await load('c2'))!), base: n })
    const loaded = await Promise.all(Array.from({ length: 6 }, () => load('c2')))
    await Promise.all(loaded.map((sess, i) => save('c2', { ...rolled(sess!), [`p${i}`]: i })))
    const final = (await load('c2'))!
    for (let i = 0; i < 6; i++) expect(final[`p${i}`]).toBe(i)
    expect(final.base).toBe(7)
  })

  it('update() deletes fields by compare-and-set; a session gone meanwhile is null', async () => {
    const s = await manager.create({ tenant: 'lay', userId: 'u1', data: { a: 1, b: 2 } })
    expect((await manager.update(s.id, ({ b: _, ...d }) => d, { tenant: 'lay' }))?.data).toEqual({ a: 1 })
    expect((await manager.get(s.id, { tenant: 'lay' }))?.data).toEqual({ a: 1 })
    const gone = await manager.update(
      s.id,
      async (d) => {
        await manager.destroy(s.id, { tenant: 'lay' })
        return { ...d, a: 2 }
      },
      { tenant: 'lay' },
    )
    expect(gone).toBeNull()
    expect(
      await conn.send(['EXISTS', keys.session('lay', s.handle)], { key: keys.session('lay', s.handle) }),
    ).toBe(0)
  })

  it('a value copied under another tenant, or past its absolute deadline by this clock, is no session', async () => {
    await save('t1', { cookie: cookie(), x: 1 })
    const raw = String(await conn.send(['GET', keyOf('t1')], { key: keyOf('t1') }))
    const foreign = keyOf('t1', 'other')
    await conn.send(['SET', foreign, raw, 'PX', '60000'], { key: foreign })
    expect(await manager.get('t1', { tenant: 'other' })).toBeNull()
    // A deadline passed by this process' clock (skew) though Redis still holds the key.
    const header = JSON.parse(raw.split('\n')[0]!) as unknown[]
    header[3] = Date.now() - 1
    const late = [JSON.stringify(header), ...raw.split('\n').slice(1)].join('\n')
    await conn.send(['SET', keyOf('t1'), late, 'PX', '60000'], { key: keyOf('t1') })
    expect(await load('t1')).toBeNull()
    expect(await manager.touch('t1', { tenant: 'lay' })).toBeNull()
    await conn.send(['DEL', foreign], { key: foreign })
  })

  it('past the absolute deadline a loaded copy writes and touches nothing; a touch of a revoked session creates nothing', async () => {
    const short = new SessionStore(conn, { tenant: 'lay', absoluteTimeout: 300, sweepInterval: false })
    await save('a1', { cookie: cookie(), x: 1 }, short)
    const sess = (await load('a1', short))!
    const other = (await load('a1', short))!
    await sleep(350)
    await save('a1', { ...rolled(sess), x: 2 }, short)
    await touch('a1', rolled(other), short)
    expect(await conn.send(['EXISTS', keyOf('a1')], { key: keyOf('a1') })).toBe(0)
    await short.close()

    await save('r1', { cookie: cookie(), x: 1 })
    const loaded = (await load('r1'))!
    await call((cb) => store.destroy('r1', cb))
    await touch('r1', rolled(loaded))
    await touch('r1', rolled(loaded) as Sess) // no snapshot left: read, then nothing to touch
    expect(await conn.send(['EXISTS', keyOf('r1')], { key: keyOf('r1') })).toBe(0)
  })

  it('an unchanged save past the threshold only moves the expiry; a touch without a loaded copy reads first', async () => {
    await save('u1', { cookie: cookie(), x: 1 })
    const sess = (await load('u1'))!
    const before = Number(await conn.send(['PEXPIRETIME', keyOf('u1')], { key: keyOf('u1') }))
    const t = Date.now()
    await waitFor('the clock to move', () => Date.now() > t + 5, { timeoutMs: 5000 })
    await save('u1', rolled(sess))
    expect(Number(await conn.send(['PEXPIRETIME', keyOf('u1')], { key: keyOf('u1') }))).toBeGreaterThan(
      before,
    )
    expect(await lines('u1')).toHaveLength(2)
    const { __rev: _, ...fresh } = rolled((await load('u1'))!)
    await waitFor('the clock to move', () => Date.now() > t + 10, { timeoutMs: 5000 })
    await touch('u1', fresh as Sess)
    expect((await manager.get('u1', { tenant: 'lay' }))!.expiresAt).toBeGreaterThan(before)
  })

  it('import of a line twice replaces the session; listByUser drops entries of sessions gone', async () => {
    const line = JSON.stringify({ sid: 'imp-1', sess: { cookie: cookie(), who: 'zed', v: 1 } })
    const again = JSON.stringify({ sid: 'imp-1', sess: { cookie: cookie(), who: 'zed', v: 2 } })
    const userId = (s: Record<string, unknown>) => s.who as string
    expect(await manager.import([line], { tenant: 'lay', userId })).toEqual({ imported: 1, skipped: 0 })
    expect(await manager.import([again], { tenant: 'lay', userId })).toEqual({ imported: 1, skipped: 0 })
    expect((await manager.get('imp-1', { tenant: 'lay' }))?.data).toMatchObject({ v: 2 })
    expect(await manager.listByUser('lay', 'zed')).toHaveLength(1)
    const k = keys.session('lay', manager.handleOf('imp-1'))
    await conn.send(['DEL', k], { key: k })
    expect(await manager.listByUser('lay', 'zed')).toEqual([])
  })
})
