// A seeded deployment for the dashboard's tests and screenshots: every page has something to show.
import type { Connection } from '@cache/client'
import { RedisCache } from '@cache/core'
import { LockManager } from '@cache/locks'
import { instrument, Metrics } from '@cache/metrics'
import { defineQueue } from '@cache/queue'
import { RateLimiter } from '@cache/ratelimit'
import { SessionManager } from '@cache/session'
import { z } from 'zod'

/** What `seed()` started: keep it running while the dashboard is watched, `close()` after. */
export interface Seeded {
  metrics: Metrics
  cache: RedisCache
  sessions: SessionManager
  queue: ReturnType<typeof seedQueue>
  /** One more burst of traffic (reads, commands, decisions) flushed to Redis: a live update has new data. */
  traffic(rounds?: number): Promise<void>
  close(): Promise<void>
}

const wait = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`seed: timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function seedQueue(conn: Connection) {
  return defineQueue(conn, 'emails', {
    jobs: { welcome: z.object({ to: z.string() }) },
    defaults: { attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  })
}

/** Seeds caches, limits, locks, a queue with dead letters and sessions under the connection's namespace. */
export async function seed(
  conn: Connection,
  options: { deadLetters?: number; clock?: () => number } = {},
): Promise<Seeded> {
  const metrics = new Metrics(conn, {
    flushInterval: '1s',
    ...(options.clock ? { clock: options.clock } : {}),
  })
  // Also records the queue's wait/run histograms (cache:queue:completed) the queues page reads.
  const stop = instrument(metrics)
  const cache = new RedisCache(conn, { namespace: 'catalog' })
  const users = new RedisCache(conn, { namespace: 'users' })
  const sessions = new SessionManager(conn)
  const locksA = new LockManager(conn, { id: 'billing-worker-1' })
  const locksB = new LockManager(conn, { id: 'billing-worker-2' })
  const queue = seedQueue(conn)

  for (let i = 0; i < 40; i++)
    await cache.set(`product:${i}`, { id: i, name: `product ${i}` }, { ttl: '1h', tags: [`shelf:${i % 4}`] })
  for (let i = 0; i < 10; i++) await users.set(`user:${i}`, { id: i }, { ttl: '10m' })

  const traffic = async (rounds = 1) => {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < 60; i++) await cache.get(`product:${i}`) // 40 hits, 20 misses
      for (let i = 0; i < 12; i++) await users.get(`user:${i}`)
      // A limiter's per-rule analytics are flushed by close(): one limiter per burst.
      const limiter = new RateLimiter(conn, {
        name: 'api',
        algorithm: 'fixed-window',
        limit: 20,
        window: '1m',
        analytics: true,
      })
      for (let i = 0; i < 30; i++) await limiter.consume(`client:${i % 3}`)
      await limiter.close()
    }
    await metrics.flush()
  }
  await traffic()

  for (let i = 0; i < 6; i++)
    await sessions.create({ tenant: i % 3 === 0 ? 'globex' : 'acme', userId: `u${i % 4}`, data: { n: i } })

  const lock = await locksA.acquire('invoice:42', { ttl: '5m' })
  const waiting = locksB.acquire('invoice:42', { ttl: '5s', waitTimeout: '5m' }).catch(() => undefined)

  let healthy = false
  const worker = queue.process({
    welcome: async () => {
      if (!healthy) throw new Error('smtp unavailable')
      return 'sent'
    },
  })
  const dead = options.deadLetters ?? 3
  for (let i = 0; i < dead; i++) await queue.add('welcome', { to: `user${i}@example.com` })
  await wait('dead letters', async () => (await queue.deadLetters.count()) >= dead)
  healthy = true
  // Jobs that complete: the queues page's wait/run p99.
  for (let i = 0; i < 5; i++) await queue.add('welcome', { to: `customer${i}@example.com` })
  await wait('completed jobs', async () => (await queue.stats()).counts.completed >= 5)
  await metrics.flush()

  return {
    metrics,
    cache,
    sessions,
    queue,
    traffic,
    close: async () => {
      stop()
      await lock.release().catch(() => {})
      await waiting.then((l) => l?.release()).catch(() => {})
      await worker.close()
      await queue.close()
      await Promise.all([sessions.close(), locksA.close(), locksB.close(), users.close(), cache.close()])
      await metrics.close()
    },
  }
}
