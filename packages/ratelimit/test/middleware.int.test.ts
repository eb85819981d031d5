import { once } from 'node:events'
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { rateLimit } from '../src/express.js'
import { fastifyRateLimit, rateLimitHook } from '../src/fastify.js'
import { httpRateLimit, rateLimitHeaders } from '../src/http.js'
import { CombinedLimiter, RateLimiter } from '../src/index.js'

const { standalone } = inject('redis')

let conn: Connection
beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('rl-http') })
})
afterAll(async () => {
  await conn?.close()
})

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('Express middleware over real HTTP', () => {
  let server: Server
  let base: string
  beforeAll(async () => {
    const perUser = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 2,
      window: '1m',
      name: 'user',
    })
    const app = express()
    app.use(
      '/api',
      rateLimit({
        limiter: perUser,
        key: 'user',
        user: (req) => req.get('x-user'),
        skip: ['/api/health', /^\/api\/public\//],
      }),
    )
    const perRoute = new RateLimiter(conn, { algorithm: 'gcra', limit: 1, window: '1m', name: 'route' })
    app.use(
      '/costly',
      rateLimit({ limiter: perRoute, key: 'route', headers: 'draft-7', message: { error: 'slow down' } }),
    )
    app.get(/.*/, (_req, res) => {
      res.send('ok')
    })
    server = http.createServer(app)
    base = await listen(server)
  })
  afterAll(async () => {
    server?.close()
  })

  it('limits per user with draft-8 headers, then 429 with Retry-After; users are apart', async () => {
    const get = (user: string) => fetch(`${base}/api/x`, { headers: { 'x-user': user } })
    const r1 = await get('alice')
    expect(r1.status).toBe(200)
    expect(r1.headers.get('ratelimit-policy')).toBe('"user";q=2;w=60')
    expect(r1.headers.get('ratelimit')).toMatch(/^"user";r=1;t=\d+$/)
    expect((await get('alice')).status).toBe(200)
    const r3 = await get('alice')
    expect(r3.status).toBe(429)
    expect(await r3.text()).toBe('Too Many Requests')
    expect(Number(r3.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(r3.headers.get('ratelimit')).toMatch(/^"user";r=0;t=\d+$/)
    expect((await get('bob')).status).toBe(200)
  })

  it('anonymous requests fall back to the IP; skip lists are never limited', async () => {
    for (let i = 0; i < 2; i++) expect((await fetch(`${base}/api/anon`)).status).toBe(200)
    expect((await fetch(`${base}/api/anon`)).status).toBe(429)
    for (let i = 0; i < 4; i++) {
      expect((await fetch(`${base}/api/health`)).status).toBe(200)
      const pub = await fetch(`${base}/api/public/page`)
      expect(pub.status).toBe(200)
      expect(pub.headers.get('ratelimit')).toBeNull()
    }
  })

  it('per-route key with draft-7 headers and a JSON body', async () => {
    const ok = await fetch(`${base}/costly/a`)
    expect(ok.headers.get('ratelimit-policy')).toBe('1;w=60')
    expect(ok.headers.get('ratelimit')).toMatch(/^limit=1, remaining=0, reset=\d+$/)
    const limited = await fetch(`${base}/costly/a`)
    expect(limited.status).toBe(429)
    expect(await limited.json()).toEqual({ error: 'slow down' })
    expect(limited.headers.get('content-type')).toMatch(/application\/json/)
  })
})

describe('Fastify over real HTTP', () => {
  let app: FastifyInstance
  let base: string
  beforeAll(async () => {
    const a = new RateLimiter(conn, { algorithm: 'sliding-log', limit: 3, window: '1m', name: 'fs' })
    const b = new RateLimiter(conn, { algorithm: 'token-bucket', limit: 100, window: '1h', name: 'fh' })
    app = Fastify()
    await app.register(fastifyRateLimit, {
      limiter: new CombinedLimiter([a, b]),
      key: 'ip+route',
      skipIps: ['10.9.9.9'],
    })
    app.get('/items/:id', async () => 'ok')
    await app.register(async (scoped) => {
      const tokens = new RateLimiter(conn, {
        algorithm: 'token-bucket',
        limit: 10,
        window: '1h',
        name: 'tok',
      })
      scoped.addHook(
        'onRequest',
        rateLimitHook({
          limiter: tokens,
          cost: (info) => Number((info.req.headers['x-cost'] as string) ?? 1),
        }),
      )
      scoped.post('/llm', async () => 'done')
    })
    base = await app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    await app?.close()
  })

  it('limits per ip+route pattern across ids, with the combined policies listed', async () => {
    const r1 = await fetch(`${base}/items/1`)
    expect(r1.status).toBe(200)
    expect(r1.headers.get('ratelimit-policy')).toBe('"fs";q=3;w=60, "fh";q=100;w=3600')
    expect(r1.headers.get('ratelimit')).toMatch(/^"fs";r=2;t=\d+$/)
    expect((await fetch(`${base}/items/2`)).status).toBe(200)
    expect((await fetch(`${base}/items/3?x=1`)).status).toBe(200)
    const limited = await fetch(`${base}/items/4`)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('weighted cost from the request (LLM tokens)', async () => {
    const post = (cost: number) =>
      fetch(`${base}/llm`, { method: 'POST', headers: { 'x-cost': String(cost) } })
    expect((await post(8)).status).toBe(200)
    expect((await post(5)).status).toBe(429)
    expect((await post(2)).status).toBe(200)
  })
})

describe('node:http', () => {
  it('answers 429 itself and lets allowed requests through', async () => {
    const limiter = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 1,
      window: '1m',
      name: 'raw',
    })
    const check = httpRateLimit({ limiter, headers: false })
    const server = http.createServer(async (req, res) => {
      if (await check(req, res)) res.end('ok')
    })
    const base = await listen(server)
    try {
      const ok = await fetch(`${base}/`)
      expect(await ok.text()).toBe('ok')
      expect(ok.headers.get('ratelimit')).toBeNull()
      const limited = await fetch(`${base}/`)
      expect(limited.status).toBe(429)
      expect(limited.headers.get('retry-after')).not.toBeNull()
    } finally {
      server.close()
    }
  })

  it('rateLimitHeaders formats both drafts', () => {
    const result = {
      allowed: false,
      remaining: 0,
      limit: 10,
      windowMs: 60_000,
      resetAfterMs: 30_500,
      retryAfterMs: 1_200,
      rule: 'api',
      key: 'k',
      source: 'redis' as const,
      rules: [
        {
          rule: 'api',
          allowed: false,
          remaining: 0,
          limit: 10,
          windowMs: 60_000,
          resetAfterMs: 30_500,
          retryAfterMs: 1_200,
          blocked: false,
        },
      ],
    }
    expect(rateLimitHeaders(result)).toEqual({
      'RateLimit-Policy': '"api";q=10;w=60',
      RateLimit: '"api";r=0;t=2',
      'Retry-After': '2',
    })
    expect(rateLimitHeaders(result, 'draft-7')).toEqual({
      'RateLimit-Policy': '10;w=60',
      RateLimit: 'limit=10, remaining=0, reset=31',
      'Retry-After': '2',
    })
  })
})
