import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Connection, commandChannel } from '@cache/client'
import { waitFor } from '@cache/tools'
import express from 'express'
import session from 'express-session'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { SessionManager } from '../src/index.js'
import { SessionKeys } from '../src/keys.js'
import { browser, sharedConnection } from './helpers.js'

type Sess = Record<string, unknown> & { cookie: Record<string, unknown> }

const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))

const cookie = (maxAge = 600_000) => ({
  originalMaxAge: maxAge,
  expires: new Date(Date.now() + maxAge).toISOString(),
  httpOnly: true,
  path: '/',
})

/** What express-session does with a loaded session and `rolling: true`: a fresh cookie expiry. */
const rolled = (sess: Sess): Sess => ({
  ...sess,
  cookie: { ...sess.cookie, expires: new Date(Date.now() + 600_000).toISOString() },
})

/** Commands sent through the connection's guarded path while `fn` runs (cache:client:command). */
async function commandsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = []
  const sub = (e: unknown) => seen.push((e as { command: string }).command)
  commandChannel.subscribe(sub)
  try {
    await fn()
  } finally {
    commandChannel.unsubscribe(sub)
  }
  return seen
}

describe.each(['standalone', 'cluster'] as const)('the store hot path on %s', (kind) => {
  let conn: Connection
  let keys: SessionKeys
  const stores: SessionStore[] = []
  const storeWith = (options: ConstructorParameters<typeof SessionStore>[1]) => {
    const store = new SessionStore(conn, { sweepInterval: false, ...options })
    stores.push(store)
    return store
  }
  const load = (store: SessionStore, sid: string) => call<Sess>((cb) => store.get(sid, cb as never))
  const save = (store: SessionStore, sid: string, sess: Sess) =>
    call((cb) => store.set(sid, sess as never, cb))
  const touch = (store: SessionStore, sid: string, sess: Sess) =>
    call((cb) => store.touch(sid, sess as never, cb))
  const lastSeenOf = async (store: SessionStore, sid: string) =>
    (await store.sessions.get(sid, { tenant: store.tenant }))!.lastSeenAt
  const expiryOf = async (store: SessionStore, sid: string) => {
    const key = keys.session(store.tenant, store.sessions.handleOf(sid))
    return Number(await conn.send(['PEXPIRETIME', key], { key }))
  }

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    keys = new SessionKeys(conn.keys.child('sess'))
  })
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()))
    await conn.close()
  })

  it('a request is plain commands (GET, then APPEND + PEXPIREAT or a PEXPIREAT); the live set is written only when the expiry passes its score', async () => {
    const store = storeWith({ tenant: 'hot1', userId: (s) => (s as { uid?: string }).uid })
    await save(store, 'h1', { cookie: cookie(), uid: 'ann', n: 0 })
    const first = await load(store, 'h1')
    // The clock past the last write.
    await touch(store, 'h1', rolled(first))
    const seen = await lastSeenOf(store, 'h1')
    await waitFor('the clock to move', () => Date.now() > seen + 5, { timeoutMs: 5000 })
    const sent = await commandsDuring(async () => {
      const sess = await load(store, 'h1')
      await save(store, 'h1', { ...rolled(sess), n: 1 })
      const again = await load(store, 'h1')
      // Same clock on this machine: a touch in the millisecond of the write would move nothing (and is skipped).
      const saved = Date.now()
      await waitFor('the clock to move', () => Date.now() > saved + 2, { timeoutMs: 5000 })
      await touch(store, 'h1', rolled(again))
    })
    // No script, and the value is never rewritten: a change is appended, a touch only moves the expiry.
    expect(sent).toEqual(['GET', 'APPEND', 'PEXPIREAT', 'GET', 'PEXPIREAT'])
    expect((await load(store, 'h1')).n).toBe(1)
    expect(first.n).toBe(0)
    // The live-set score is an upper bound of the expiry, at most the slack (idle / 10, here 1m) past it.
    const handle = store.sessions.handleOf('h1')
    const live = keys.live('hot1')
    const score = Number(await conn.send(['ZSCORE', live, handle], { key: live }))
    const expiry = await expiryOf(store, 'h1')
    expect(score).toBeGreaterThanOrEqual(expiry)
    expect(score).toBeLessThanOrEqual(expiry + 60_000)
    expect((await store.sessions.stats('hot1')).activeSessions).toBe(1)
  })

  it('touchAfter: a touch or an unchanged save within the threshold sends nothing; past it, the expiry moves', async () => {
    const lazy = storeWith({ tenant: 'hot2', touchAfter: '1h' })
    await save(lazy, 't1', { cookie: cookie(), a: 1 })
    const before = await expiryOf(lazy, 't1')
    const loaded = await load(lazy, 't1')
    const other = await load(lazy, 't1')
    const sent = await commandsDuring(async () => {
      await touch(lazy, 't1', rolled(loaded))
      await save(lazy, 't1', rolled(other))
    })
    expect(sent).toEqual([])
    expect(await expiryOf(lazy, 't1')).toBe(before)
    // A change is always written, threshold or not.
    await save(lazy, 't1', { ...rolled(loaded), a: 2 })
    expect((await load(lazy, 't1')).a).toBe(2)

    const eager = storeWith({ tenant: 'hot2', touchAfter: '20ms' })
    const again = await load(eager, 't1')
    const lastWrite = await expiryOf(eager, 't1')
    const seen = await lastSeenOf(eager, 't1')
    await waitFor('the threshold to pass', () => Date.now() > seen + 40, { timeoutMs: 5000 })
    await touch(eager, 't1', rolled(again))
    expect(await expiryOf(eager, 't1')).toBeGreaterThan(lastWrite)
  })

  it('touchAfter 0 (default): every touch moves the Redis expiry, and get reports it as cookie.expires', async () => {
    const store = storeWith({ tenant: 'hot3' })
    await save(store, 'e1', { cookie: cookie(), a: 1 })
    const loaded = await load(store, 'e1')
    const before = await expiryOf(store, 'e1')
    const seen = await lastSeenOf(store, 'e1')
    await waitFor('the clock to move', () => Date.now() > seen + 5, { timeoutMs: 5000 })
    await touch(store, 'e1', rolled(loaded))
    const after = await expiryOf(store, 'e1')
    expect(after).toBeGreaterThan(before)
    const reloaded = await load(store, 'e1')
    expect(new Date(reloaded.cookie.expires as string).getTime()).toBe(after)
    // cookie.expires is derived, not stored: the stored cookie field never changes on a rolling request.
    const key = keys.session('hot3', store.sessions.handleOf('e1'))
    const chunks = String(await conn.send(['GET', key], { key }))
      .split('\n')
      .slice(1)
      .map((line) => JSON.parse(line) as { s?: { cookie?: object } })
    expect(chunks).toHaveLength(1)
    expect(chunks[0]!.s!.cookie).toMatchObject({ originalMaxAge: 600_000 })
    expect(chunks[0]!.s!.cookie).not.toHaveProperty('expires')
  })

  it('no lost update: parallel requests on one session, each changing its own field, all survive', async () => {
    const store = storeWith({ tenant: 'race', touchAfter: '1h' })
    const other = storeWith({ tenant: 'race', touchAfter: '1h' })
    await save(store, 'r1', { cookie: cookie(), base: 0 })
    const fields = Array.from({ length: 16 }, (_, i) => `f${i}`)
    // Every request loads before any saves (the worst interleaving), half of them in another process' store.
    const loaded = await Promise.all(fields.map((_, i) => load(i % 2 ? other : store, 'r1')))
    await Promise.all(
      fields.map((f, i) => save(i % 2 ? other : store, 'r1', { ...rolled(loaded[i]!), [f]: i })),
    )
    // An unchanged save of a copy loaded before all of them is skipped: it takes nothing back.
    await save(store, 'r1', rolled(loaded[0]!))
    const final = await load(store, 'r1')
    for (const [i, f] of fields.entries()) expect(final[f]).toBe(i)
    expect(final.base).toBe(0)
  })

  it('no lost update: SessionManager.update increments in parallel with store saves of other fields', async () => {
    const store = storeWith({ tenant: 'race2' })
    const manager = new SessionManager(conn, { sweepInterval: false, maxRetries: 200 })
    await save(store, 'r2', { cookie: cookie(), count: 0 })
    await Promise.all([
      ...Array.from({ length: 10 }, () =>
        manager.update('r2', (d) => ({ ...d, count: (d.count as number) + 1 }), { tenant: 'race2' }),
      ),
      ...Array.from({ length: 10 }, async (_, i) => {
        const sess = await load(store, 'r2')
        await save(store, 'r2', { ...rolled(sess), [`s${i}`]: true })
      }),
    ])
    const final = await load(store, 'r2')
    expect(final.count).toBe(10)
    for (let i = 0; i < 10; i++) expect(final[`s${i}`]).toBe(true)
    await manager.close()
  })

  it('revokeUser racing saves and touches of the same sessions: nothing comes back, no key is left', async () => {
    const store = storeWith({ tenant: 'revrace', userId: (s) => (s as { uid?: string }).uid })
    for (let round = 0; round < 5; round++) {
      const sids = Array.from({ length: 8 }, (_, i) => `rr${round}-${i}`)
      await Promise.all(sids.map((sid) => save(store, sid, { cookie: cookie(), uid: 'eve', n: 0 })))
      const loaded = await Promise.all(sids.map((sid) => load(store, sid)))
      const again = await Promise.all(sids.map((sid) => load(store, sid)))
      const saved = Date.now()
      await waitFor('the clock to move', () => Date.now() > saved + 2, { timeoutMs: 5000 })
      // Each session: a change, a touch and the revocation all in flight at once.
      const [revoked] = await Promise.all([
        store.revokeUser('eve'),
        ...sids.map((sid, i) => save(store, sid, { ...rolled(loaded[i]!), n: i + 1 })),
        ...sids.map((sid, i) => touch(store, sid, rolled(again[i]!))),
      ])
      expect(revoked).toBe(8)
      for (const sid of sids) {
        expect(await load(store, sid)).toBeNull()
        const key = keys.session('revrace', store.sessions.handleOf(sid))
        expect(Number(await conn.send(['EXISTS', key], { key }))).toBe(0)
      }
      expect(await store.sessions.listByUser('revrace', 'eve')).toEqual([])
    }
  })

  it('a user id with "|" survives the packed header', async () => {
    const manager = new SessionManager(conn, { sweepInterval: false })
    const s = await manager.create({ tenant: 'pipe', userId: 'a|b|c' })
    expect((await manager.get(s.id, { tenant: 'pipe' }))?.userId).toBe('a|b|c')
    expect(await manager.listByUser('pipe', 'a|b|c')).toHaveLength(1)
    expect(await manager.revokeUser('pipe', 'a|b|c')).toBe(1)
    await manager.close()
  })

  it('sessions stored by 0.1.x (a hash, either header form) are read and rewritten as a string, expiry kept; a malformed one reads as no session', async () => {
    const store = storeWith({ tenant: 'old' })
    const manager = new SessionManager(conn, { sweepInterval: false })
    const now = Date.now()
    const exp = now + 600_000
    const cookieJson = JSON.stringify({ originalMaxAge: 600_000, path: '/' })
    const nine = keys.session('old', store.sessions.handleOf('nine-fields'))
    await conn.send(
      [
        'HSET',
        nine,
        '~t',
        'old',
        '~u',
        'ann',
        '~c',
        String(now - 5000),
        '~l',
        String(now - 1000),
        '~i',
        '600000',
        '~a',
        String(now + 3_600_000),
        '~m',
        '{"ip":"10.1.1.1"}',
        '~v',
        '3',
        '~L',
        String(exp + 60_000),
        'f:cookie',
        cookieJson,
        'f:n',
        '7',
      ],
      { key: nine },
    )
    const packed = keys.session('old', store.sessions.handleOf('packed'))
    const head = [4, now - 1000, 600_000, now + 3_600_000, exp + 60_000, now - 5000, 'old', 'a|b'].join('|')
    await conn.send(['HSET', packed, '~', head, 'f:cookie', cookieJson, 'f:n', '8'], { key: packed })
    await Promise.all([nine, packed].map((k) => conn.send(['PEXPIREAT', k, String(exp)], { key: k })))
    const bad = keys.session('old', store.sessions.handleOf('bad-header'))
    await conn.send(['HSET', bad, '~', '1|2|3', 'f:a', '1'], { key: bad })

    expect(await load(store, 'nine-fields')).toMatchObject({ n: 7, cookie: { originalMaxAge: 600_000 } })
    expect(await manager.get('packed', { tenant: 'old' })).toMatchObject({
      userId: 'a|b',
      data: { n: 8 },
      createdAt: now - 5000,
      absoluteExpiresAt: now + 3_600_000,
    })
    expect(await manager.get('nine-fields', { tenant: 'old' })).toMatchObject({
      userId: 'ann',
      meta: { ip: '10.1.1.1' },
      expiresAt: exp,
    })
    for (const k of [nine, packed]) {
      expect(await conn.send(['TYPE', k], { key: k })).toBe('string')
      expect(Number(await conn.send(['PEXPIRETIME', k], { key: k }))).toBe(exp)
    }
    // Another tenant's store never sees (nor rewrites) it; writes after the upgrade merge as usual.
    const sess = await load(store, 'nine-fields')
    await save(store, 'nine-fields', { ...rolled(sess), n: 9 })
    expect((await load(store, 'nine-fields')).n).toBe(9)
    expect(await load(store, 'bad-header')).toBeNull()
    expect(await manager.get('bad-header', { tenant: 'old' })).toBeNull()
    await Promise.all([nine, packed, bad].map((k) => conn.send(['DEL', k], { key: k })))
    await manager.close()
  })

  it('over real HTTP (express-session, rolling): with touchAfter, reads leave the expiry, changes move it', async () => {
    const store = storeWith({ tenant: 'http', touchAfter: '1h' })
    const app = express()
    app.use(
      session({
        store,
        secret: 'hot-path-secret-hot-path',
        resave: false,
        saveUninitialized: false,
        rolling: true,
        cookie: { maxAge: 600_000 },
      }),
    )
    app.get('/inc', (req, res) => {
      const s = req.session as unknown as { n?: number }
      s.n = (s.n ?? 0) + 1
      res.json({ n: s.n })
    })
    app.get('/read', (req, res) => res.json({ n: (req.session as unknown as { n?: number }).n ?? null }))
    const server: Server = app.listen(0)
    await new Promise((r) => server.once('listening', r))
    try {
      const b = browser(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
      expect((await b.go('/inc')).body).toEqual({ n: 1 })
      const sid = decodeURIComponent(b.cookie.split('=')[1]!).slice(2).split('.')[0]!
      const first = await expiryOf(store, sid)
      expect(first).toBeGreaterThan(Date.now())
      for (let i = 0; i < 3; i++) expect((await b.go('/read')).body).toEqual({ n: 1 })
      expect(await expiryOf(store, sid)).toBe(first)
      const seen = Date.now()
      await waitFor('the clock to move', () => Date.now() > seen + 5, { timeoutMs: 5000 })
      expect((await b.go('/inc')).body).toEqual({ n: 2 })
      expect(await expiryOf(store, sid)).toBeGreaterThan(first)
    } finally {
      server.close()
    }
  })

  it('bad touchAfter: E_INVALID_OPTION', () => {
    expect(() => new SessionStore(conn, { touchAfter: -1 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
  })
})
