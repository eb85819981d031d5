import type { Connection } from '@cache/client'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { browser, sharedConnection, sleep } from './helpers.js'

declare module 'fastify' {
  interface Session {
    userId?: string
    views?: number
    a?: number
    b?: number
  }
}

/** A Fastify app with @fastify/session over our store, listening on a free port. */
async function app(store: SessionStore, maxAge: number): Promise<{ base: string; fastify: FastifyInstance }> {
  const fastify = Fastify()
  await fastify.register(fastifyCookie)
  await fastify.register(fastifySession, {
    store: store as never,
    secret: 'a-secret-with-at-least-32-characters!',
    saveUninitialized: false,
    rolling: true,
    cookie: { maxAge, secure: false },
  })
  fastify.get<{ Params: { user: string } }>('/login/:user', async (req) => {
    await req.session.regenerate()
    req.session.userId = req.params.user
    return { ok: true }
  })
  fastify.get('/me', async (req) => {
    req.session.views = (req.session.views ?? 0) + 1
    return {
      userId: req.session.userId ?? null,
      views: req.session.views,
      expires: req.session.cookie.expires,
    }
  })
  fastify.get('/peek', async (req) => ({
    userId: req.session.userId ?? null,
    a: req.session.a ?? null,
    b: req.session.b ?? null,
  }))
  fastify.get<{ Params: { field: 'a' | 'b' } }>('/set/:field', async (req) => {
    await sleep(100) // both requests load the same copy before either saves
    req.session[req.params.field] = 1
    return { ok: true }
  })
  fastify.get('/logout', async (req) => {
    await req.session.destroy()
    return { ok: true }
  })
  fastify.get('/logout-others', async (req) => ({
    revoked: await store.revokeUser(req.session.userId!, req.session.sessionId),
  }))
  fastify.setErrorHandler((err: { code?: string }, _req, reply) => {
    void reply.status(503).send({ code: err.code ?? 'unknown' })
  })
  const address = await fastify.listen({ port: 0, host: '127.0.0.1' })
  return { base: address, fastify }
}

describe.each(['standalone', 'cluster'] as const)('@fastify/session over HTTP on %s', (kind) => {
  let conn: Connection
  let store: SessionStore
  let base: string
  let fastify: FastifyInstance

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    store = new SessionStore(conn, { tenant: 'fy', userId: (s) => s.userId, absoluteTimeout: '1h' })
    ;({ base, fastify } = await app(store, 60_000))
  })
  afterAll(async () => {
    await fastify.close()
    await store.close()
    await conn.close()
  })

  it('login regenerates the id, the session is read back, logout destroys it', async () => {
    const b = browser(base)
    await b.go('/me')
    const anon = b.cookie
    await b.go('/login/alice')
    expect(b.cookie).not.toBe(anon)
    expect(b.cookie).toMatch(/^sessionId=./)
    expect((await b.go('/me')).body.userId).toBe('alice')
    expect((await b.go('/me')).body.views).toBe(2)
    expect(await store.sessions.listByUser('fy', 'alice')).toHaveLength(1)
    await b.go('/logout')
    expect((await b.go('/peek')).body.userId).toBeNull()
    expect(await store.sessions.listByUser('fy', 'alice')).toHaveLength(0)
  })

  it('the cookie expiry and the Redis expiry agree', async () => {
    const b = browser(base)
    await b.go('/login/erin')
    const me = await b.go('/me')
    const sid = decodeURIComponent(b.cookie.slice('sessionId='.length)).split('.')[0]!
    const key = `${conn.keys.prefix}sess:t:fy:{${store.sessions.handleOf(sid)}}`
    const redisExpiry = Number(await conn.send(['PEXPIRETIME', key], { key }))
    expect(Math.abs(redisExpiry - new Date(String(me.body.expires)).getTime())).toBeLessThan(1000)
    const setCookieExpiry = /Expires=([^;]+)/i.exec(me.setCookie ?? '')?.[1]
    expect(Math.abs(redisExpiry - new Date(setCookieExpiry!).getTime())).toBeLessThan(2000)
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
  })

  it('parallel requests changing different fields both survive', async () => {
    const b = browser(base)
    await b.go('/login/dave')
    await Promise.all([b.go('/set/a'), b.go('/set/b')])
    expect((await b.go('/peek')).body).toMatchObject({ userId: 'dave', a: 1, b: 1 })
  })
})

describe('@fastify/session timeouts (short)', () => {
  let conn: Connection
  let fastify: FastifyInstance
  let base: string

  beforeAll(async () => {
    conn = await sharedConnection('standalone')
    const store = new SessionStore(conn, {
      tenant: 'fy-short',
      userId: (s) => s.userId,
      absoluteTimeout: 1500,
    })
    ;({ base, fastify } = await app(store, 600))
  })
  afterAll(async () => {
    await fastify.close()
    await conn.close()
  })

  it('rolling idle expiry, then the absolute cap however active', async () => {
    const idle = browser(base)
    await idle.go('/login/x')
    await sleep(900)
    expect((await idle.go('/peek')).body.userId).toBeNull()

    const busy = browser(base)
    await busy.go('/login/y')
    let seen = 0
    for (let i = 0; i < 5; i++) {
      await sleep(250)
      if ((await busy.go('/me')).body.userId === 'y') seen++
    }
    expect(seen).toBe(5)
    await sleep(600)
    expect((await busy.go('/peek')).body.userId).toBeNull()
  })
})
