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

const { standalone, sentinel, cluster } = inject('redis')

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

  it('refuses a limit that disagrees with the limiter', async () => {
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
    expect(init({ skipSuccessfulRequests: true, skipFailedRequests: true })).toBe('ok')
    expect(await codeOf(Promise.resolve().then(() => new RateLimitStore({} as never)))).toBe(
      'E_INVALID_ARGUMENT',
    )
    await limiter.close()
  })
})

describe.each([
  ['standalone', () => connect({ url: standalone.url, namespace: uniquePrefix('int-erl-skip') })],
  [
    'sentinel',
    () =>
      connect({
        sentinel: { name: sentinel.name, sentinels: sentinel.sentinels },
        namespace: uniquePrefix('int-erl-skip'),
      }),
  ],
  ['cluster', () => connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('int-erl-skip') })],
] as const)('express-rate-limit refunds through decrement (%s)', (_name, open) => {
  it.each(['fixed-window', 'sliding-log', 'gcra'] as const)(
    'skipFailedRequests over real HTTP with %s: failed requests do not count, successful ones do',
    async (algorithm) => {
      const c = await open()
      const limiter = new RateLimiter(c, { algorithm, limit: 3, window: '1m', name: `skip-${algorithm}` })
      const a = express()
      a.use(
        rateLimit({
          windowMs: 60_000,
          limit: 3,
          standardHeaders: 'draft-7',
          legacyHeaders: false,
          store: new RateLimitStore(limiter),
          skipFailedRequests: true,
        }),
      )
      a.get('/fail', (_req, res) => {
        res.status(500).send('no')
      })
      a.get('/ok', (_req, res) => {
        res.send('ok')
      })
      const server = http.createServer(a)
      const base = await listen(server)
      try {
        // express-rate-limit decrements on 'finish', after the response is sent: wait for the refund to land
        const settled = async (want: number) => {
          for (let i = 0; i < 200 && (await limiter.peek('erl:127.0.0.1')).remaining !== want; i++)
            await new Promise((r) => setTimeout(r, 10))
          return (await limiter.peek('erl:127.0.0.1')).remaining
        }
        for (let i = 0; i < 5; i++) {
          expect((await fetch(`${base}/fail`)).status).toBe(500)
          expect(await settled(3)).toBe(3)
        }
        const statuses = []
        for (let i = 0; i < 4; i++) statuses.push((await fetch(`${base}/ok`)).status)
        expect(statuses).toEqual([200, 200, 200, 429])
        // a failed request after the limit is reached is still turned away: only counted hits are refunded
        expect((await fetch(`${base}/fail`)).status).toBe(429)
      } finally {
        await shut(server)
        await limiter.close()
        await c.close()
      }
    },
  )

  it('skipSuccessfulRequests: only failures count', async () => {
    const c = await open()
    const limiter = new RateLimiter(c, { algorithm: 'token-bucket', limit: 2, window: '1m', name: 'skip-ok' })
    const store = new RateLimitStore(limiter)
    const a = express()
    a.use(rateLimit({ windowMs: 60_000, limit: 2, store, skipSuccessfulRequests: true }))
    a.get('/:code', (req, res) => {
      res.status(Number(req.params.code)).send('x')
    })
    const server = http.createServer(a)
    const base = await listen(server)
    try {
      for (let i = 0; i < 4; i++) {
        expect((await fetch(`${base}/200`)).status).toBe(200)
        for (let j = 0; j < 200 && (await limiter.peek('erl:127.0.0.1')).remaining !== 2; j++)
          await new Promise((r) => setTimeout(r, 10))
      }
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${base}/400`)).status)
      expect(statuses).toEqual([400, 400, 429])
    } finally {
      await shut(server)
      await limiter.close()
      await c.close()
    }
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
