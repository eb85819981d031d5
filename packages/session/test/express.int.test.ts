import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Connection } from '@cache/client'
import express from 'express'
import session from 'express-session'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { browser, sharedConnection, sleep } from './helpers.js'

declare module 'express-session' {
  interface SessionData {
    userId?: string
    a?: number
    b?: number
    views?: number
  }
}

async function app(store: SessionStore, maxAge: number): Promise<{ base: string; server: Server }> {
  const a = express()
  a.use(
    session({
      store,
      secret: 'test-secret-test-secret',
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge },
    }),
  )
  a.get('/login/:user', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err)
      req.session.userId = req.params.user
      res.json({ ok: true })
    })
  })
  a.get('/me', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1
    res.json({
      userId: req.session.userId ?? null,
      views: req.session.views,
      expires: req.session.cookie.expires,
    })
  })
  a.get('/peek', (req, res) =>
    res.json({ userId: req.session.userId ?? null, a: req.session.a, b: req.session.b }),
  )
  a.get('/set/:field', async (req, res) => {
    await sleep(100) // both requests load the same copy before either saves
    req.session[req.params.field as 'a' | 'b'] = 1
    res.json({ ok: true })
  })
  a.get('/logout', (req, res, next) =>
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))),
  )
  a.get('/logout-others', async (req, res, next) => {
    try {
      res.json({ revoked: await store.revokeUser(req.session.userId!, req.sessionID) })
    } catch (err) {
      next(err)
    }
  })
  a.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(503).json({ code: (err as { code?: string }).code ?? 'unknown' })
  })
  const server = a.listen(0)
  await new Promise((r) => server.once('listening', r))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

describe.each(['standalone', 'cluster'] as const)('express-session over HTTP on %s', (kind) => {
  let conn: Connection
  let store: SessionStore
  let base: string
  let server: Server

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    store = new SessionStore(conn, { tenant: 'web', userId: (s) => s.userId, absoluteTimeout: '1h' })
    ;({ base, server } = await app(store, 60_000))
  })
  afterAll(async () => {
    server.close()
    await store.close()
    await conn.close()
  })

  it('login regenerates the id, the session is read back, logout destroys it', async () => {
    const b = browser(base)
    await b.go('/me')
    const anon = b.cookie
    await b.go('/login/alice')
    expect(b.cookie).not.toBe(anon)
    const me = await b.go('/me')
    expect(me.body.userId).toBe('alice')
    expect((await b.go('/me')).body.views).toBe(2)
    await b.go('/logout')
    expect((await b.go('/peek')).body.userId).toBeNull()
  })

  it('cookie.expires equals the Redis expiry', async () => {
    const b = browser(base)
    await b.go('/login/erin')
    const me = await b.go('/me')
    const sid = decodeURIComponent(b.cookie.split('=')[1]!).slice(2).split('.')[0]!
    const handle = store.sessions.handleOf(sid)
    const key = `${conn.keys.prefix}sess:t:web:{${handle}}`
    const redisExpiry = Number(await conn.send(['PEXPIRETIME', key], { key }))
    const cookieExpiry = new Date(String(me.body.expires)).getTime()
    expect(Math.abs(redisExpiry - cookieExpiry)).toBeLessThan(1000)
  })

  it('revokeUser logs out the user’s other browsers only', async () => {
    const laptop = browser(base)
    const phone = browser(base)
    const other = browser(base)
    await laptop.go('/login/bob')
    await phone.go('/login/bob')
    await other.go('/login/carol')
    expect((await laptop.go('/logout-others')).body.revoked).toBe(1)
    expect((await phone.go('/peek')).body.userId).toBeNull()
    expect((await laptop.go('/peek')).body.userId).toBe('bob')
    expect((await other.go('/peek')).body.userId).toBe('carol')
    const list = await store.sessions.listByUser('web', 'bob')
    expect(list).toHaveLength(1)
  })

  it('parallel requests changing different fields both survive', async () => {
    const b = browser(base)
    await b.go('/login/dave')
    await Promise.all([b.go('/set/a'), b.go('/set/b')])
    expect((await b.go('/peek')).body).toMatchObject({ userId: 'dave', a: 1, b: 1 })
  })
})

describe('express-session timeouts (short)', () => {
  let conn: Connection
  let server: Server
  let base: string
  let store: SessionStore

  // Idle 1 s, absolute 3 s: wide enough margins that a slow request on a loaded machine (CI runs every
  // suite at once) cannot expire a session the test expects alive, nor keep one it expects gone.
  const IDLE_MS = 1000
  const ABSOLUTE_MS = 3000

  beforeAll(async () => {
    conn = await sharedConnection('standalone')
    store = new SessionStore(conn, { tenant: 'short', userId: (s) => s.userId, absoluteTimeout: ABSOLUTE_MS })
    ;({ base, server } = await app(store, IDLE_MS))
  })
  afterAll(async () => {
    server.close()
    await conn.close()
  })

  it('rolling idle expiry, then the absolute cap however active', async () => {
    const idle = browser(base)
    await idle.go('/login/x')
    await sleep(IDLE_MS + 400)
    expect((await idle.go('/peek')).body.userId).toBeNull() // idle passed

    // A request every 250 ms keeps the session alive until its absolute deadline (counted from the login
    // reply at the latest), and no later. Requests that end before it must see the user; the first sent
    // after it must not; the ones around it are not judged (the server's clock decides them).
    const busy = browser(base)
    await busy.go('/login/y')
    const loggedInAt = Date.now()
    let before = 0
    let seen = 0
    for (;;) {
      await sleep(250)
      const sentAt = Date.now()
      const user = (await busy.go('/me')).body.userId
      if (Date.now() < loggedInAt + ABSOLUTE_MS - 500) {
        before++
        if (user === 'y') seen++
      } else if (sentAt > loggedInAt + ABSOLUTE_MS + 100) {
        expect(user).toBeNull() // past the absolute cap although never idle
        break
      }
    }
    expect(before).toBeGreaterThanOrEqual(3)
    expect(seen).toBe(before) // each request rolled the idle deadline
  })
})
