import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Connection, connect, isUnavailable } from '@cache/client'
import { type StandaloneTopology, startStandalone, uniquePrefix } from '@cache/tools'
import express from 'express'
import session from 'express-session'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { SessionManager } from '../src/index.js'
import { call, cookie, sharedConnection } from './helpers.js'

describe.each(['standalone', 'cluster'] as const)('the express-session Store contract on %s', (kind) => {
  let conn: Connection
  let store: SessionStore

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    store = new SessionStore(conn, { tenant: 'contract' })
  })
  afterAll(async () => {
    await store.close()
    await store.close()
    await conn.close()
  })

  it('get/set/touch/destroy/all/length/clear', async () => {
    expect(await call((cb) => store.get('missing', cb))).toBeNull()
    await call((cb) => store.set('sid-1', { cookie: cookie(), n: 1 } as never, cb))
    await call((cb) => store.set('sid-2', { cookie: cookie(), n: 2 } as never, cb))
    const one = await call<Record<string, unknown>>((cb) => store.get('sid-1', cb as never))
    expect(one.n).toBe(1)
    expect(typeof (one.cookie as { expires: string }).expires).toBe('string')
    await call((cb) => store.touch('sid-1', one as never, cb))
    expect(await call((cb) => store.length(cb))).toBe(2)
    const all = await call<Array<Record<string, unknown>>>((cb) => store.all(cb as never))
    expect(all.map((s) => s.n).sort()).toEqual([1, 2])
    await call((cb) => store.destroy('sid-1', cb))
    expect(await call((cb) => store.get('sid-1', cb))).toBeNull()
    expect(await call((cb) => store.length(cb))).toBe(1)
    await call((cb) => store.clear(cb))
    expect(await call((cb) => store.length(cb))).toBe(0)
    expect(await call((cb) => store.get('sid-2', cb))).toBeNull()
  })

  it('set merges field by field against the loaded copy; a deleted field goes; same field: last writer wins', async () => {
    await call((cb) => store.set('m', { cookie: cookie(), a: 0, b: 0, gone: 1 } as never, cb))
    const x = await call<Record<string, unknown>>((cb) => store.get('m', cb as never))
    const y = await call<Record<string, unknown>>((cb) => store.get('m', cb as never))
    await call((cb) => store.set('m', { ...x, a: 1, same: 'x' } as never, cb))
    const { gone: _, ...withoutGone } = y
    await call((cb) => store.set('m', { ...withoutGone, b: 1, same: 'y' } as never, cb))
    const z = await call<Record<string, unknown>>((cb) => store.get('m', cb as never))
    expect(z).toMatchObject({ a: 1, b: 1, same: 'y' })
    expect(z.gone).toBeUndefined()
  })

  it('a loaded session destroyed meanwhile is not revived by a late set', async () => {
    await call((cb) => store.set('late', { cookie: cookie(), a: 1 } as never, cb))
    const x = await call<Record<string, unknown>>((cb) => store.get('late', cb as never))
    await call((cb) => store.destroy('late', cb))
    await call((cb) => store.set('late', { ...x, a: 2 } as never, cb))
    expect(await call((cb) => store.get('late', cb))).toBeNull()
  })

  it('a save whose loaded copy is unknown here (evicted snapshot) replaces, but never creates', async () => {
    await call((cb) => store.set('evicted', { cookie: cookie(), __rev: 3, a: 1 } as never, cb))
    expect(await call((cb) => store.get('evicted', cb))).toBeNull()
    await call((cb) => store.set('known', { cookie: cookie(), a: 1, b: 1 } as never, cb))
    await call((cb) => store.set('known', { cookie: cookie(), __rev: 99, a: 2 } as never, cb))
    expect(await call((cb) => store.get('known', cb))).toMatchObject({ a: 2 })
    expect(await call<Record<string, unknown>>((cb) => store.get('known', cb as never))).not.toHaveProperty(
      'b',
    )
  })

  it('sessions written by the store are visible to a SessionManager on the same namespace', async () => {
    const shared = new SessionStore(conn, { tenant: 'mix', userId: (s) => (s as { uid?: string }).uid })
    await call((cb) => shared.set('shared-sid', { cookie: cookie(), uid: 'zoe' } as never, cb))
    const mgr = new SessionManager(conn)
    expect((await mgr.get('shared-sid', { tenant: 'mix' }))?.userId).toBe('zoe')
    expect(await mgr.listByUser('mix', 'zoe')).toHaveLength(1)
  })

  it('bad input: typed errors through the callback', async () => {
    await expect(call((cb) => store.get(42 as never, cb))).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    await expect(
      call((cb) => store.set('big', { cookie: cookie(), big: 'x'.repeat(70_000) } as never, cb)),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    expect(() => new SessionStore(conn, { tenant: 'no spaces' })).toThrow(/tenant/)
  })
})

describe('Redis paused or killed mid-request (own standalone)', () => {
  let server: StandaloneTopology
  let conn: Connection
  let http: Server
  let base: string
  let store: SessionStore

  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({
      url: server.url,
      namespace: uniquePrefix('session'),
      commandTimeout: '200ms',
      reconnect: { initialDelay: '20ms', maxDelay: '100ms' },
      breaker: { failureThreshold: 2, resetTimeout: '200ms' },
    })
    store = new SessionStore(conn, { tenant: 'fault' })
    const app = express()
    app.use(session({ store, secret: 'fault-secret-fault', resave: false, saveUninitialized: false }))
    app.get('/in', (req, res) => {
      ;(req.session as unknown as { n: number }).n = 1
      res.json({ ok: true })
    })
    app.get('/n', (req, res) => res.json({ n: (req.session as unknown as { n?: number }).n ?? null }))
    app.use((err: unknown, _q: express.Request, res: express.Response, _n: express.NextFunction) => {
      res.status(503).json({ unavailable: isUnavailable(err), code: (err as { code?: string }).code })
    })
    http = app.listen(0)
    await new Promise((r) => http.once('listening', r))
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.master.resume()
    http.close()
    await conn.close()
    await server.stop()
  })

  it('paused: next(err) with E_TIMEOUT/E_UNAVAILABLE instead of a hang; the session survives', async () => {
    const res = await fetch(`${base}/in`)
    const sid = res.headers.get('set-cookie')!.split(';')[0]!
    server.master.pause()
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/n`, { headers: { cookie: sid } })
      expect(r.status).toBe(503)
      expect(((await r.json()) as { unavailable: boolean }).unavailable).toBe(true)
    }
    server.master.resume()
    let n: unknown = null
    for (let i = 0; i < 50 && n !== 1; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const r = await fetch(`${base}/n`, { headers: { cookie: sid } })
      if (r.status === 200) n = ((await r.json()) as { n: unknown }).n
    }
    expect(n).toBe(1)
  })

  it('killed: E_UNAVAILABLE through the manager too', async () => {
    const mgr = new SessionManager(conn)
    const s = await mgr.create({ tenant: 'fault', userId: 'u' })
    await server.master.kill()
    const err = await mgr.get(s.id, { tenant: 'fault' }).catch((e: unknown) => e)
    expect(isUnavailable(err)).toBe(true)
    await server.master.restart()
  })
})
