import { type Connection, connect } from '@cache/client'
import { SessionManager } from '@cache/session'
import { uniquePrefix } from '@cache/tools'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type SessionHandle, withSession } from '../src/web.js'
import { listen, pause, serveFetch, shut } from './helpers.js'

const { standalone } = inject('redis')

let conn: Connection
let sessions: SessionManager
beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-sess') })
  sessions = new SessionManager(conn, { idleTimeout: '10m', absoluteTimeout: '1h', sweepInterval: false })
})
afterAll(async () => {
  await sessions?.close()
  await conn?.close()
})

/** A browser's cookie jar for one cookie. */
class Browser {
  cookie: string | undefined
  constructor(readonly base: string) {}
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, {
      ...init,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(init.headers as Record<string, string>),
      },
    })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      this.cookie = /Max-Age=0\b/.test(c) ? undefined : pair
    }
    return res
  }
}

type Env = { Bindings: { session: SessionHandle<{ cart: string[] }> } }

describe('withSession for Web-standard handlers (a Hono app over real HTTP)', () => {
  it('logs in with a new id, reads and updates the data, rolls the expiry, logs out', async () => {
    const app = new Hono<Env>()
    app.post('/login', async (c) => {
      const s = await c.env.session.login(c.req.query('user')!, { cart: [] })
      return c.json({ user: s.userId })
    })
    app.post('/cart', async (c) => {
      const s = await c.env.session.update((d) => ({ cart: [...d.cart, c.req.query('item')!] }))
      return s ? c.json(s.data) : c.text('no session', 401)
    })
    app.get('/me', (c) => {
      const s = c.env.session.current
      return s ? c.json({ user: s.userId, cart: s.data.cart }) : c.text('anonymous', 401)
    })
    app.post('/logout', async (c) => {
      await c.env.session.logout()
      return c.text('bye')
    })
    const server = serveFetch(
      withSession<{ cart: string[] }>((req, session) => app.fetch(req, { session }), {
        sessions,
        tenant: 'shop',
      }),
    )
    const base = await listen(server)
    try {
      const alice = new Browser(base)
      expect((await alice.fetch('/me')).status).toBe(401)
      const login = await alice.fetch('/login?user=alice', { method: 'POST' })
      const setCookie = login.headers.get('set-cookie')!
      expect(setCookie).toMatch(/^sid=[^;]+; Path=\/; Max-Age=(599|600); Expires=.+; HttpOnly; SameSite=Lax$/)
      expect(login.headers.get('cache-control')).toBe('private, no-store')
      const firstId = alice.cookie
      await alice.fetch('/cart?item=apple', { method: 'POST' })
      await alice.fetch('/cart?item=pear', { method: 'POST' })
      expect(await (await alice.fetch('/me')).json()).toEqual({ user: 'alice', cart: ['apple', 'pear'] })
      // rolling: every request sends the cookie again, with the extended expiry
      const before = (await sessions.get(firstId!.slice(4), { tenant: 'shop' }))!.expiresAt
      await pause(1100)
      const again = await alice.fetch('/me')
      expect(again.headers.get('set-cookie')).toMatch(/Max-Age=(599|600)/)
      expect((await sessions.get(firstId!.slice(4), { tenant: 'shop' }))!.expiresAt).toBeGreaterThan(before)
      // logging in again replaces the session (fixation defence): the old id stops working
      const oldCookie = alice.cookie
      await alice.fetch('/login?user=alice', { method: 'POST' })
      expect(alice.cookie).not.toBe(oldCookie)
      const stale = new Browser(base)
      stale.cookie = oldCookie
      expect((await stale.fetch('/me')).status).toBe(401)
      // another tenant's id, and a forged one, read as no session
      const forged = new Browser(base)
      forged.cookie = 'sid=not-a-real-session-id'
      expect((await forged.fetch('/me')).status).toBe(401)
      const out = await alice.fetch('/logout', { method: 'POST' })
      expect(out.headers.get('set-cookie')).toMatch(/^sid=; Path=\/; Max-Age=0/)
      expect(alice.cookie).toBeUndefined()
      expect((await alice.fetch('/me')).status).toBe(401)
    } finally {
      await shut(server)
    }
  })

  it('without rolling the cookie is sent only when the session starts, and Secure on https', async () => {
    const handler = withSession(
      async (_req, session) => {
        if (!session.current) await session.login('bob')
        return new Response(session.current!.userId)
      },
      { sessions, rolling: false, cookie: { name: 'app_session', sameSite: 'Strict' } },
    )
    const first = await handler(new Request('https://app.example/'))
    const cookie = first.headers.get('set-cookie')!
    expect(cookie).toMatch(/^app_session=.+; SameSite=Strict; Secure$/)
    const second = await handler(
      new Request('https://app.example/', { headers: { cookie: cookie.split(';')[0]! } }),
    )
    expect(await second.text()).toBe('bob')
    expect(second.headers.get('set-cookie')).toBeNull()
    expect(() => withSession(handler as never, { sessions: {} as never })).toThrow(/sessions/)
  })
})
