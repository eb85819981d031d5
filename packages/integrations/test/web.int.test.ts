import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { responseChannel } from '../src/index.js'
import { withCache } from '../src/web.js'

const { standalone } = inject('redis')

let conn: Connection
let cache: RedisCache
beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-web') })
  cache = new RedisCache(conn, { namespace: 'web' })
})
afterAll(async () => {
  await cache?.close()
  await conn?.close()
})

/** The second argument Next.js (app router, 15+) passes to a route handler. */
type RouteContext = { params: Promise<{ id: string }> }

describe('withCache with plain Request/Response, in the shape a Next.js route handler gets', () => {
  it('caches GET by the route params in the URL; the context reaches the handler', async () => {
    let calls = 0
    const GET = withCache(
      async (req: Request, ctx: RouteContext) => {
        calls++
        const { id } = await ctx.params
        return Response.json(
          { id, q: new URL(req.url).searchParams.get('q'), calls },
          { headers: { 'cache-control': 's-maxage=60', 'cache-tag': `item:${id}` } },
        )
      },
      { cache },
    )
    const call = (id: string, init?: RequestInit) =>
      GET(new Request(`https://shop.example/api/items/${id}?q=x`, init), { params: Promise.resolve({ id }) })
    const a = await call('1')
    expect(await a.json()).toEqual({ id: '1', q: 'x', calls: 1 })
    expect(a.headers.get('cache-tag')).toBeNull()
    const b = await call('1')
    expect(b.headers.get('x-cache')).toBe('HIT')
    expect(await b.json()).toEqual({ id: '1', q: 'x', calls: 1 })
    expect(b.headers.get('content-type')).toBe('application/json')
    const c = await call('1', { headers: { 'if-none-match': b.headers.get('etag')! } })
    expect(c.status).toBe(304)
    expect(c.body).toBeNull()
    expect(await cache.invalidateTags(['item:1'])).toBe(1)
    expect(((await (await call('1')).json()) as { calls: number }).calls).toBe(2)
  })

  it('never stores a Set-Cookie response unless told to strip the cookie', async () => {
    let calls = 0
    const handler = async () => {
      calls++
      const headers = new Headers({ 'set-cookie': 'sid=1' })
      headers.append('set-cookie', 'theme=dark')
      return new Response(`n=${calls}`, { headers })
    }
    const bypass = withCache(handler, { cache })
    const strip = withCache(handler, { cache, setCookie: 'strip', key: () => 'strip-route' })
    const first = await bypass(new Request('http://h/c'))
    expect(first.headers.getSetCookie()).toEqual(['sid=1', 'theme=dark'])
    await bypass(new Request('http://h/c'))
    expect(calls).toBe(2)
    const s1 = await strip(new Request('http://h/s'))
    expect(s1.headers.getSetCookie()).toEqual(['sid=1', 'theme=dark'])
    const s2 = await strip(new Request('http://h/s'))
    expect(s2.headers.get('x-cache')).toBe('HIT')
    expect(s2.headers.getSetCookie()).toEqual([])
    expect(await s2.text()).toBe(await s1.text())
  })

  it('answers from the handler when the cache fails (never breaks the route), and says why', async () => {
    const broken = new RedisCache(conn, { namespace: 'closed' })
    await broken.close()
    const events: unknown[] = []
    const listen = (e: unknown) => events.push(e)
    responseChannel.subscribe(listen)
    try {
      const GET = withCache(async () => new Response('fine'), { cache: broken })
      const res = await GET(new Request('http://h/x'))
      expect(await res.text()).toBe('fine')
      expect(res.headers.get('x-cache')).toBe('BYPASS')
      expect(events).toContainEqual({ namespace: 'closed', outcome: 'BYPASS', reason: 'error' })
      // a write whose tag invalidation fails still gets its own answer
      const POST = withCache(
        async () => new Response('saved', { status: 201, headers: { 'cache-tag': 't' } }),
        {
          cache: broken,
        },
      )
      const saved = await POST(new Request('http://h/x', { method: 'POST' }))
      expect([saved.status, await saved.text(), saved.headers.get('cache-tag')]).toEqual([201, 'saved', null])
    } finally {
      responseChannel.unsubscribe(listen)
    }
  })

  it('a handler that throws stores nothing and the waiting requests run their own', async () => {
    let calls = 0
    const GET = withCache(
      async () => {
        calls++
        await new Promise((r) => setTimeout(r, 100))
        if (calls === 1) throw new Error('boom')
        return new Response(`ok ${calls}`)
      },
      { cache, key: () => 'throwing' },
    )
    const results = await Promise.allSettled([GET(new Request('http://h/t')), GET(new Request('http://h/t'))])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect(calls).toBe(2)
  })
})
