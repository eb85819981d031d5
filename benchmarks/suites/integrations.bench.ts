/**
 * @cache/integrations over real HTTP on loopback, same server, same run:
 * - a response-cache hit through Express (cacheResponses) and through Hono (honoCache) against the same
 *   route uncached doing 5 ms of work, and through Express against apicache, the Express peer (its default
 *   in-process memory store): cacheResponses on a TieredCache (L1 in process, Redis behind it) is the like
 *   for like, on a RedisCache (a round trip per hit) for information;
 * - express-rate-limit with our RateLimitStore against express-rate-limit with rate-limit-redis (ioredis),
 *   both measured per HTTP request through the whole middleware, and (information) with its built-in
 *   MemoryStore: no Redis at all, the ceiling for any store, since Express and express-rate-limit's own
 *   work per request stay.
 */
import { once } from 'node:events'
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { cacheResponses } from '@cache/integrations/express'
import { RateLimitStore } from '@cache/integrations/express-rate-limit'
import { honoCache } from '@cache/integrations/hono'
import { RateLimiter } from '@cache/ratelimit'
import { TieredCache } from '@cache/tiered'
import apicache from 'apicache'
import express from 'express'
import { MemoryStore, rateLimit } from 'express-rate-limit'
import { Hono } from 'hono'
import { Redis as IORedis } from 'ioredis'
import { RedisStore } from 'rate-limit-redis'
import { defineSuite, type Measurement, measureInterleaved, type RatioResult, ratio } from '../lib.js'

const work = () => new Promise((resolve) => setTimeout(resolve, 5))

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A node:http server for a Web-standard handler (what Hono's node adapter does). */
function serveFetch(handler: (req: Request) => Response | Promise<Response>): Server {
  return http.createServer(async (req, res) => {
    const response = await handler(
      new Request(`http://${req.headers.host}${req.url}`, { method: req.method }),
    )
    res.statusCode = response.status
    for (const [k, v] of response.headers) res.setHeader(k, v)
    res.end(Buffer.from(await response.arrayBuffer()))
  })
}

/**
 * The load generator: node:http over keep-alive connections, one client for every contender. (It was
 * fetch: its client cost in this same process, ~0.4 ms of CPU a request, capped every contender near
 * 2,000 req/s, below the 6,400 req/s the 5 ms route allows at c=32, so the suite measured the client and
 * every ratio read ~1.)
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
const get = (url: string) =>
  new Promise<number>((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.on('data', () => {})
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      })
      .on('error', reject)
  })

export default defineSuite('integrations', async (ctx) => {
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-integrations' })
  const cache = new RedisCache(conn, { namespace: 'pages' })
  const tiered = new TieredCache(conn, { namespace: 'pages-tiered' })
  await tiered.ready
  const io = new IORedis(ctx.standaloneUrl)
  const opts = { concurrency: 32, durationMs: 6000, rounds: 3, scale: ctx.scale }
  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []
  const servers: Server[] = []

  // ---- response cache hits vs the uncached route ------------------------------------------------
  const body = JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` })) })
  const ex = express()
  ex.get('/cached', cacheResponses({ cache, ttl: '10m' }), async (_req, res) => {
    await work()
    res.type('json').send(body)
  })
  // Handler runs per route: a hit path must not run its handler again after the warm-up request.
  const runs = { tiered: 0, apicache: 0 }
  ex.get('/tiered', cacheResponses({ cache: tiered, ttl: '10m' }), async (_req, res) => {
    runs.tiered++
    await work()
    res.type('json').send(body)
  })
  const api = apicache.newInstance({})
  ex.get('/apicache', api.middleware('10 minutes'), async (_req, res) => {
    runs.apicache++
    await work()
    res.type('json').send(body)
  })
  ex.get('/plain', async (_req, res) => {
    await work()
    res.type('json').send(body)
  })
  const hono = new Hono()
  hono.get('/cached', honoCache({ cache, ttl: '10m' }), async (c) => {
    await work()
    return c.body(body, 200, { 'content-type': 'application/json' })
  })
  hono.get('/plain', async (c) => {
    await work()
    return c.body(body, 200, { 'content-type': 'application/json' })
  })
  const exServer = http.createServer(ex)
  const honoServer = serveFetch((req) => hono.fetch(req))
  servers.push(exServer, honoServer)
  const [exBase, honoBase] = await Promise.all([listen(exServer), listen(honoServer)])
  for (const path of ['/cached', '/tiered', '/apicache']) await get(`${exBase}${path}`)
  await get(`${honoBase}/cached`)
  const [exHit, exPlain, honoHit, honoPlain] = await measureInterleaved(
    [
      { name: 'Express: cacheResponses hit', op: () => get(`${exBase}/cached`) },
      { name: 'Express: uncached route (5 ms of work)', op: () => get(`${exBase}/plain`) },
      { name: 'Hono: honoCache hit', op: () => get(`${honoBase}/cached`) },
      { name: 'Hono: uncached route (5 ms of work)', op: () => get(`${honoBase}/plain`) },
    ],
    opts,
  )
  measurements.push(exHit!, exPlain!, honoHit!, honoPlain!)
  ratios.push(ratio('Express hit vs uncached 5 ms route, c=32', exHit!.opsPerSec, exPlain!.opsPerSec, 1))
  ratios.push(ratio('Hono hit vs uncached 5 ms route, c=32', honoHit!.opsPerSec, honoPlain!.opsPerSec, 1))

  // ---- against apicache (memory store): the like for like is an L1 hit -----------------------------
  const [tieredHit, apiHit, redisHit] = await measureInterleaved(
    [
      { name: 'Express: cacheResponses hit, TieredCache', op: () => get(`${exBase}/tiered`) },
      { name: 'Express: apicache hit (memory store)', op: () => get(`${exBase}/apicache`) },
      { name: 'Express: cacheResponses hit, RedisCache', op: () => get(`${exBase}/cached`) },
    ],
    opts,
  )
  measurements.push(tieredHit!, apiHit!, redisHit!)
  if (runs.tiered !== 1 || runs.apicache !== 1)
    throw new Error(`hits ran their handler again: ${JSON.stringify(runs)} (expected 1 each)`)
  ratios.push(
    ratio('Express hit vs apicache hit, c=32 (TieredCache, L1)', tieredHit!.opsPerSec, apiHit!.opsPerSec, 1),
    ratio(
      'Express hit vs apicache hit, c=32 (RedisCache, a round trip; information)',
      redisHit!.opsPerSec,
      apiHit!.opsPerSec,
      0,
    ),
  )

  // ---- express-rate-limit: our store vs rate-limit-redis -----------------------------------------
  const limit = 100_000_000
  const limiter = new RateLimiter(conn, { algorithm: 'fixed-window', limit, window: '1h', name: 'erl-bench' })
  const ours = express()
  ours.use(
    rateLimit({
      windowMs: 3_600_000,
      limit,
      store: new RateLimitStore(limiter),
      standardHeaders: 'draft-7',
      legacyHeaders: false,
    }),
  )
  ours.get('/', (_req, res) => {
    res.send('ok')
  })
  const peer = express()
  peer.use(
    rateLimit({
      windowMs: 3_600_000,
      limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      store: new RedisStore({
        sendCommand: (...args: string[]) => io.call(args[0]!, ...args.slice(1)) as never,
        prefix: 'bench-erl:',
      }),
    }),
  )
  peer.get('/', (_req, res) => {
    res.send('ok')
  })
  const memoryStore = new MemoryStore()
  const memory = express()
  memory.use(
    rateLimit({
      windowMs: 3_600_000,
      limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      store: memoryStore,
    }),
  )
  memory.get('/', (_req, res) => {
    res.send('ok')
  })
  const oursServer = http.createServer(ours)
  const peerServer = http.createServer(peer)
  const memoryServer = http.createServer(memory)
  servers.push(oursServer, peerServer, memoryServer)
  const [oursBase, peerBase, memoryBase] = await Promise.all([
    listen(oursServer),
    listen(peerServer),
    listen(memoryServer),
  ])
  const [erlOurs, erlPeer, erlMemory] = await measureInterleaved(
    [
      { name: 'express-rate-limit + RateLimitStore (@cache/ratelimit)', op: () => get(oursBase) },
      { name: 'express-rate-limit + rate-limit-redis', op: () => get(peerBase) },
      { name: 'express-rate-limit + MemoryStore (no Redis: the ceiling)', op: () => get(memoryBase) },
    ],
    opts,
  )
  measurements.push(erlOurs!, erlPeer!, erlMemory!)
  ratios.push(
    ratio('express-rate-limit store vs rate-limit-redis, c=32', erlOurs!.opsPerSec, erlPeer!.opsPerSec, 1.2),
    ratio(
      'express-rate-limit MemoryStore vs rate-limit-redis, c=32 (the ceiling of any store; information)',
      erlMemory!.opsPerSec,
      erlPeer!.opsPerSec,
      0,
    ),
  )

  memoryStore.shutdown()
  // apicache keeps a 10-minute timer per entry (clear() without a key leaves them): the run would not
  // exit for 10 minutes after the last suite. Clearing each key stops its timers.
  for (const key of api.getIndex().all) api.clear(key)
  agent.destroy()
  for (const s of servers) {
    s.closeAllConnections()
    s.close()
  }
  await limiter.close()
  await cache.close()
  await tiered.close()
  io.disconnect()
  await conn.close()
  return {
    suite: 'integrations',
    description:
      'HTTP response-cache hits (Express, Hono) vs the uncached route and vs apicache, and express-rate-limit stores, over real HTTP on loopback',
    settings: { concurrency: 32, handlerWorkMs: 5 },
    measurements,
    ratios,
  }
})
