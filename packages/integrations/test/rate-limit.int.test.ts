import http, { type Server } from 'node:http'
import { type Connection, connect } from '@cache/client'
import { RateLimiter } from '@cache/ratelimit'
import { codeOf, uniquePrefix } from '@cache/tools'
import express from 'express'
import { rateLimit } from 'express-rate-limit'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { RateLimitStore } from '../src/express-rate-limit.js'
import { withRateLimit } from '../src/web.js'
import { listen, serveFetch, shut } from './helpers.js'

const { standalone, cluster } = inject('redis')

let conn: Connection
let other: Connection
beforeAll(async () => {
  const namespace = uniquePrefix('int-erl')
  conn = await connect({ url: standalone.url, namespace })
  other = await connect({ url: standalone.url, namespace })
})
afterAll(async () => {
  await conn?.close()
  await other?.close()
})

/** An Express app limited by express-rate-limit with our store. */
function app(store: RateLimitStore, limit: number, extra: Record<string, unknown> = {}): Server {
  const a = express()
  a.set('trust proxy', false)
  a.use(
    rateLimit({ windowMs: 60_000, limit, standardHeaders: 'draft-7', legacyHeaders: false, store, ...extra }),
  )
  a.get('/', (_req, res) => {
    res.send('ok')
  })
  return http.createServer(a)
}

describe('express-rate-limit with RateLimitStore over real HTTP', () => {
  it('limits exactly, with express-rate-limit’s own headers, and across two servers sharing Redis', async () => {
    const a = new RateLimiter(conn, { algorithm: 'fixed-window', limit: 4, window: '1m', name: 'erl-a' })
    const b = new RateLimiter(other, { algorithm: 'fixed-window', limit: 4, window: '1m', name: 'erl-a' })
    const servers = [app(new RateLimitStore(a), 4), app(new RateLimitStore(b), 4)]
    const bases = await Promise.all(servers.map(listen))
    try {
      const statuses: number[] = []
      const remaining: string[] = []
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${bases[i % 2]}/`)
        statuses.push(res.status)
        remaining.push(res.headers.get('ratelimit') ?? '')
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
      expect(remaining.slice(0, 4).map((h) => /remaining=(\d+)/.exec(h)?.[1])).toEqual(['3', '2', '1', '0'])
      expect(remaining[4]).toMatch(/limit=4, remaining=0, reset=\d+/)
    } finally {
      await Promise.all(servers.map(shut))
      await a.close()
      await b.close()
    }
  })

  it('answers getKey and resetKey of express-rate-limit through the limiter (peek, reset)', async () => {
    const limiter = new RateLimiter(conn, {
      algorithm: 'sliding-window',
      limit: 2,
      window: '1m',
      name: 'erl-b',
    })
    const store = new RateLimitStore(limiter, { prefix: 'b:' })
    const erl = rateLimit({ windowMs: 60_000, limit: 2, store })
    const a = express()
    a.use(erl)
    a.get('/', (_req, res) => {
      res.send('ok')
    })
    const server = http.createServer(a)
    const base = await listen(server)
    try {
      expect((await fetch(base)).status).toBe(200)
      const seen = await erl.getKey('127.0.0.1')
      expect(seen?.totalHits).toBe(1)
      expect(seen?.resetTime).toBeInstanceOf(Date)
      expect((await fetch(base)).status).toBe(200)
      expect((await fetch(base)).status).toBe(429)
      expect((await erl.getKey('127.0.0.1'))?.totalHits).toBe(3)
      await erl.resetKey('127.0.0.1')
      expect((await fetch(base)).status).toBe(200)
      // the store's keys are the limiter's, under the prefix
      expect((await limiter.peek('b:127.0.0.1')).remaining).toBe(1)
    } finally {
      await shut(server)
      await limiter.close()
    }
  })

  it('brings any @cache/ratelimit algorithm to express-rate-limit: GCRA with a burst, on Cluster', async () => {
    const cconn = await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('int-erl') })
    const limiter = new RateLimiter(cconn, {
      algorithm: 'gcra',
      limit: 3,
      window: '1m',
      burst: 3,
      name: 'erl-c',
    })
    const server = app(new RateLimitStore(limiter), 3)
    const base = await listen(server)
    try {
      const statuses = []
      for (let i = 0; i < 5; i++) statuses.push((await fetch(base)).status)
      expect(statuses).toEqual([200, 200, 200, 429, 429])
    } finally {
      await shut(server)
      await limiter.close()
      await cconn.close()
    }
  })

  it('refuses a limit that disagrees with the limiter, and refunds (skip*Requests) it cannot make', async () => {
    const limiter = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 5,
      window: '1m',
      name: 'erl-d',
    })
    const store = new RateLimitStore(limiter)
    const init = (o: Record<string, unknown>) => {
      try {
        store.init({ limit: 5, ...o } as never)
        return 'ok'
      } catch (err) {
        return `${(err as { code: string }).code}:${(err as { field: string }).field}`
      }
    }
    expect(init({})).toBe('ok')
    expect(init({ limit: 10 })).toBe('E_INVALID_OPTION:limit')
    expect(init({ skipSuccessfulRequests: true })).toBe('E_INVALID_OPTION:skipSuccessfulRequests')
    expect(init({ skipFailedRequests: true })).toBe('E_INVALID_OPTION:skipFailedRequests')
    expect(await codeOf(store.decrement('x'))).toBe('E_UNSUPPORTED')
    expect(await codeOf(Promise.resolve().then(() => new RateLimitStore({} as never)))).toBe(
      'E_INVALID_ARGUMENT',
    )
    await limiter.close()
  })
})

describe('withRateLimit for Web-standard handlers', () => {
  it('limits a Hono app over real HTTP: RateLimit headers, 429 + Retry-After, the handler not reached', async () => {
    const limiter = new RateLimiter(conn, { algorithm: 'token-bucket', limit: 2, window: '1m', name: 'web' })
    let reached = 0
    const hono = new Hono()
    hono.get('/api', (c) => {
      reached++
      return c.text('hello')
    })
    const handler = withRateLimit((req: Request) => hono.fetch(req), {
      limiter,
      key: (req) => req.headers.get('x-user') ?? undefined,
    })
    const server = serveFetch(handler)
    const base = await listen(server)
    try {
      const asUser = () => fetch(`${base}/api`, { headers: { 'x-user': 'u1' } })
      const first = await asUser()
      expect(first.status).toBe(200)
      expect(first.headers.get('ratelimit')).toMatch(/^"web";r=1;t=\d+$/)
      expect(first.headers.get('ratelimit-policy')).toBe('"web";q=2;w=60')
      expect((await asUser()).status).toBe(200)
      const denied = await asUser()
      expect(denied.status).toBe(429)
      expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await denied.text()).toBe('Too Many Requests')
      expect(reached).toBe(2)
      // no key: not limited
      for (let i = 0; i < 3; i++) expect((await fetch(`${base}/api`)).status).toBe(200)
      expect(reached).toBe(5)
    } finally {
      await shut(server)
      await limiter.close()
    }
  })

  it('keys on x-forwarded-for by default, takes a cost, a custom answer and no headers', async () => {
    const limiter = new RateLimiter(conn, {
      algorithm: 'fixed-window',
      limit: 10,
      window: '1m',
      name: 'web2',
    })
    const handler = withRateLimit(async () => new Response('ok'), {
      limiter,
      cost: 4,
      headers: false,
      limited: (ms) => Response.json({ error: 'slow down', ms }, { status: 503 }),
    })
    const call = (ip: string) =>
      handler(new Request('http://h/', { headers: { 'x-forwarded-for': `${ip}, 10.0.0.1` } }))
    expect((await call('1.1.1.1')).status).toBe(200)
    expect((await call('1.1.1.1')).headers.get('ratelimit')).toBeNull()
    const denied = await call('1.1.1.1')
    expect(denied.status).toBe(503)
    expect(denied.headers.get('retry-after')).not.toBeNull()
    expect(((await denied.json()) as { error: string }).error).toBe('slow down')
    expect((await call('2.2.2.2')).status).toBe(200)
    expect(
      await codeOf(Promise.resolve().then(() => withRateLimit(handler, { limiter: undefined as never }))),
    ).toBe('E_INVALID_OPTION')
    await limiter.close()
  })
})
