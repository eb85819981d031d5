import http, { type Server } from 'node:http'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { uniquePrefix } from '@cache/tools'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cacheResponses as expressCache } from '../src/express.js'
import { fastifyCache, cacheTags as fastifyTags } from '../src/fastify.js'
import { honoCache } from '../src/hono.js'
import { cacheResponses as httpCache, cacheTags as httpTags } from '../src/http.js'
import type { ResponseCacheOptions } from '../src/index.js'
import { withCache } from '../src/web.js'
import { CallLog, produce } from './fixtures/app.js'
import { listen, pause, serveFetch, shut } from './helpers.js'

const { standalone, cluster } = inject('redis')

type Options = Omit<ResponseCacheOptions<any>, 'cache'>
/** Builds a server of the fixture app with one adapter. */
type Build = (cache: RedisCache, log: CallLog, options: Options) => Promise<Server>

const adapters: Record<string, Build> = {
  express: async (cache, log, options) => {
    const app = express()
    app.use(expressCache({ cache, ...options }))
    app.all(/.*/, async (req, res) => {
      const p = await produce(log, { method: req.method, path: req.path, header: (n) => req.get(n) })
      res.locals.cacheTags = p.tags
      res.status(p.status).set(p.headers).send(p.body)
    })
    app.set('etag', false)
    return http.createServer(app)
  },
  'node:http': async (cache, log, options) => {
    const cached = httpCache({ cache, ...options })
    return http.createServer((req, res) => {
      void cached(req, res, async () => {
        const header = (n: string) => req.headers[n] as string | undefined
        const p = await produce(log, {
          method: req.method ?? 'GET',
          path: (req.url ?? '/').split('?')[0]!,
          header,
        })
        httpTags(res, ...p.tags)
        res.writeHead(p.status, p.headers)
        res.end(p.body)
      })
    })
  },
  fastify: async (cache, log, options) => {
    const app = Fastify()
    await app.register(fastifyCache, { cache, ...options })
    app.all('/*', async (request, reply) => {
      const header = (n: string) => request.headers[n] as string | undefined
      const p = await produce(log, { method: request.method, path: request.url.split('?')[0]!, header })
      fastifyTags(reply, ...p.tags)
      reply.code(p.status).headers(p.headers)
      return p.body
    })
    await app.ready()
    return app.server
  },
  hono: async (cache, log, options) => {
    const app = new Hono()
    app.use(honoCache({ cache, ...options }))
    app.all('*', async (c) => {
      const p = await produce(log, { method: c.req.method, path: c.req.path, header: (n) => c.req.header(n) })
      if (p.tags.length) c.header('Cache-Tag', p.tags.join(','))
      return c.body(p.body, p.status as 200, p.headers)
    })
    return serveFetch((req) => app.fetch(req))
  },
  'withCache (Web handler)': async (cache, log, options) => {
    const handler = withCache(
      async (req: Request) => {
        const url = new URL(req.url)
        const p = await produce(log, {
          method: req.method,
          path: url.pathname,
          header: (n) => req.headers.get(n) ?? undefined,
        })
        const headers = new Headers(p.headers)
        if (p.tags.length) headers.set('cache-tag', p.tags.join(','))
        return new Response(p.body, { status: p.status, headers })
      },
      { cache, ...options },
    )
    return serveFetch(handler)
  },
}

let conn: Connection
beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-http') })
})
afterAll(async () => {
  await conn?.close()
})

describe.each(Object.keys(adapters))('response cache through %s over real HTTP', (name) => {
  const log = new CallLog()
  let server: Server
  let base: string
  let cache: RedisCache
  beforeAll(async () => {
    cache = new RedisCache(conn, { namespace: `rc-${name.replace(/[^a-z]/g, '')}` })
    server = await adapters[name]!(cache, log, {
      ttl: '1m',
      vary: ['accept-language'],
      ignoreQuery: [/^utm_/],
    })
    base = await listen(server)
  })
  afterAll(async () => {
    await shut(server)
    await cache?.close()
  })
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${base}${path}`, { method, headers })

  it('stores a GET and answers the next one from the cache, with ETag and Age', async () => {
    const a = await get('/basic')
    expect(a.status).toBe(200)
    expect(a.headers.get('x-cache')).toBe('MISS')
    const body = await a.text()
    const b = await get('/basic')
    expect(b.headers.get('x-cache')).toBe('HIT')
    expect(await b.text()).toBe(body)
    expect(b.headers.get('etag')).toMatch(/^"[\w-]+"$/)
    expect(b.headers.get('etag')).toBe(a.headers.get('etag'))
    expect(Number(b.headers.get('age'))).toBeGreaterThanOrEqual(0)
    expect(b.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(log.count('GET /basic')).toBe(1)
  })

  it('answers 304 to a matching If-None-Match, with no body', async () => {
    const a = await get('/etag')
    const etag = a.headers.get('etag')!
    const b = await get('/etag', { 'if-none-match': `W/${etag}, "other"` })
    expect(b.status).toBe(304)
    expect(await b.text()).toBe('')
    expect(b.headers.get('etag')).toBe(etag)
    const c = await get('/etag', { 'if-none-match': '"stale"' })
    expect(c.status).toBe(200)
    expect(log.count('GET /etag')).toBe(1)
  })

  it('never stores no-store, private or no-cache responses', async () => {
    for (const cc of ['no-store', 'private, max-age=60', 'no-cache']) {
      const path = `/cc-${cc.split(',')[0]}`
      await get(path, { 'x-cc': cc })
      const again = await get(path, { 'x-cc': cc })
      expect(again.headers.get('x-cache')).toBe('MISS')
      expect(again.headers.get('cache-control')).toBe(cc)
      expect(log.count(`GET ${path}`)).toBe(2)
    }
  })

  it('never stores a response that sets a cookie, and never answers one with another user’s cookie', async () => {
    const a = await get('/cookie', { 'x-cookie': '1' })
    expect(a.headers.get('set-cookie')).toContain('sid=secret')
    const b = await get('/cookie')
    expect(b.headers.get('set-cookie')).toBeNull()
    expect(b.headers.get('x-cache')).toBe('MISS')
    expect(log.count('GET /cookie')).toBe(2)
  })

  it('bypasses requests with Authorization', async () => {
    await get('/auth', { authorization: 'Bearer a' })
    const b = await get('/auth', { authorization: 'Bearer b' })
    expect(b.headers.get('x-cache')).toBe('BYPASS')
    expect(log.count('GET /auth')).toBe(2)
    // nor do they read what an anonymous request stored
    await get('/auth')
    expect((await get('/auth', { authorization: 'Bearer a' })).headers.get('x-cache')).toBe('BYPASS')
  })

  it('keys on the Vary headers it is told, and does not store a response varying on others', async () => {
    const en = await (await get('/vary', { 'accept-language': 'en' })).text()
    const fr = await (await get('/vary', { 'accept-language': 'fr' })).text()
    expect(en).toContain('lang=en')
    expect(fr).toContain('lang=fr')
    expect(await (await get('/vary', { 'accept-language': 'en' })).text()).toBe(en)
    expect(log.count('GET /vary')).toBe(2)
    await get('/vary-other', { 'x-vary': 'x-device' })
    expect((await get('/vary-other', { 'x-vary': 'x-device' })).headers.get('x-cache')).toBe('MISS')
    await get('/vary-star', { 'x-vary': '*' })
    expect((await get('/vary-star', { 'x-vary': '*' })).headers.get('x-cache')).toBe('MISS')
  })

  it('normalises the URL: query order and ignored parameters share an entry', async () => {
    const a = await (await get('/query?b=2&a=1')).text()
    expect(await (await get('/query?a=1&b=2&utm_source=mail')).text()).toBe(a)
    expect(await (await get('/query?a=1&b=3')).text()).not.toBe(a)
    expect(log.count('GET /query')).toBe(2)
  })

  it('runs the handler once for concurrent misses (stampede)', async () => {
    const replies = await Promise.all(
      Array.from({ length: 12 }, () => get('/stampede', { 'x-delay': '150' }).then((r) => r.text())),
    )
    expect(new Set(replies).size).toBe(1)
    expect(log.count('GET /stampede')).toBe(1)
  })

  it('invalidates by tag: a write through the middleware drops the responses tagged by its handler', async () => {
    await get('/product/7', { 'x-tags': 'product:7' })
    await get('/products', { 'x-tags': 'product:7,products' })
    await get('/product/8', { 'x-tags': 'product:8' })
    expect((await get('/product/7')).headers.get('x-cache')).toBe('HIT')
    const post = await get('/product/7', { 'x-tags': 'product:7' }, 'POST')
    expect(post.headers.get('x-cache')).toBe('BYPASS')
    expect(post.headers.get('cache-tag')).toBeNull()
    expect((await get('/product/7')).headers.get('x-cache')).toBe('MISS')
    expect((await get('/products')).headers.get('x-cache')).toBe('MISS')
    expect((await get('/product/8')).headers.get('x-cache')).toBe('HIT')
    expect(await cache.invalidateTags(['product:8'])).toBe(1)
    expect((await get('/product/8')).headers.get('x-cache')).toBe('MISS')
  })

  it('honours max-age (s-maxage wins) as the TTL', async () => {
    await get('/short', { 'x-cc': 'max-age=1' })
    await get('/shared', { 'x-cc': 'max-age=1, s-maxage=60' })
    expect((await get('/short')).headers.get('x-cache')).toBe('HIT')
    await pause(1100)
    expect((await get('/short', { 'x-cc': 'max-age=1' })).headers.get('x-cache')).toBe('MISS')
    expect((await get('/shared')).headers.get('x-cache')).toBe('HIT')
  })

  it('serves stale while one request revalidates (stale-while-revalidate)', async () => {
    const cc = { 'x-cc': 'max-age=1, stale-while-revalidate=30' }
    const first = await (await get('/swr', cc)).text()
    await pause(1100)
    const [a, b] = await Promise.all([
      get('/swr', { ...cc, 'x-delay': '300' }),
      pause(60).then(() => get('/swr', cc)),
    ])
    expect([a.headers.get('x-cache'), b.headers.get('x-cache')].sort()).toEqual(['MISS', 'STALE'])
    const stale = a.headers.get('x-cache') === 'STALE' ? a : b
    expect(await stale.text()).toBe(first)
    expect(log.count('GET /swr')).toBe(2)
    expect((await get('/swr')).headers.get('x-cache')).toBe('HIT')
  })

  it('does not store statuses outside the list, and answers HEAD from a stored GET', async () => {
    await get('/boom', { 'x-status': '500' })
    expect((await get('/boom', { 'x-status': '500' })).status).toBe(500)
    expect(log.count('GET /boom')).toBe(2)
    await get('/head')
    const head = await get('/head', {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.headers.get('x-cache')).toBe('HIT')
    expect(await head.text()).toBe('')
  })
})

describe('response cache across processes', () => {
  it('two servers with their own caches on one Redis run the handler once (the getOrSet lease)', async () => {
    const log = new CallLog()
    const namespace = uniquePrefix('int-http-x')
    const conns = [
      await connect({ url: standalone.url, namespace }),
      await connect({ url: standalone.url, namespace }),
    ]
    const caches = conns.map((c) => new RedisCache(c, { namespace: 'rc' }))
    // Behind a load balancer every instance sees one Host; here the two ports differ, so the key leaves it out.
    const key = (req: { method: string; url: string }) => `page:${req.method}:${req.url}`
    const servers = await Promise.all(caches.map((cache) => adapters.express!(cache, log, { key })))
    const bases = await Promise.all(servers.map(listen))
    try {
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${bases[i % 2]}/shared`, { headers: { 'x-delay': '200' } }).then(async (r) => ({
            body: await r.text(),
            outcome: r.headers.get('x-cache'),
          })),
        ),
      )
      expect(new Set(replies.map((r) => r.body)).size).toBe(1)
      expect(replies.filter((r) => r.outcome === 'MISS')).toHaveLength(1)
      expect(log.count('GET /shared')).toBe(1)
    } finally {
      await Promise.all(servers.map(shut))
      await Promise.all(caches.map((c) => c.close()))
      await Promise.all(conns.map((c) => c.close()))
    }
  })
})

describe('response cache on Cluster', () => {
  it('stores, answers and invalidates by tag', async () => {
    const cconn = await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('int-http') })
    const cache = new RedisCache(cconn, { namespace: 'rc' })
    const log = new CallLog()
    const server = await adapters.express!(cache, log, {})
    const base = await listen(server)
    try {
      for (const p of ['/a', '/b', '/c']) await fetch(`${base}${p}`, { headers: { 'x-tags': 'all' } })
      for (const p of ['/a', '/b', '/c'])
        expect((await fetch(`${base}${p}`)).headers.get('x-cache')).toBe('HIT')
      await fetch(`${base}/a`, { method: 'DELETE', headers: { 'x-tags': 'all' } })
      for (const p of ['/a', '/b', '/c'])
        expect((await fetch(`${base}${p}`)).headers.get('x-cache')).toBe('MISS')
    } finally {
      await shut(server)
      await cache.close()
      await cconn.close()
    }
  })
})
