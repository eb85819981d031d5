/**
 * The @cache demo (`npm start`): connects to REDIS_URL, or to a throwaway redis-server started by the test
 * harness, and walks through what each package does, printing timings. Ctrl-C stops everything it started.
 */
import { connect } from '@cache/client'
import { MemoryCache, RedisCache } from '@cache/core'
import { EventStream, PubSub } from '@cache/events'
import { LockManager } from '@cache/locks'
import { RateLimiter } from '@cache/ratelimit'
import { type StandaloneTopology, startStandalone } from '@cache/tools'
import { z } from 'zod'

let server: StandaloneTopology | undefined
let stopping = false
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    await server?.stop()
  }
  process.exit(code)
}
process.on('SIGINT', () => void shutdown(130))
process.on('SIGTERM', () => void shutdown(143))

function ms(start: number): string {
  return `${(performance.now() - start).toFixed(2)} ms`
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now()
  const value = await fn()
  const shown = value === undefined ? 'undefined' : JSON.stringify(value).slice(0, 100)
  console.log(`  ${label.padEnd(44)} ${ms(start).padStart(10)}   ${shown}`)
  return value
}

async function main(): Promise<void> {
  let url = process.env.REDIS_URL
  if (!url) {
    const start = performance.now()
    server = await startStandalone()
    url = server.url
    console.log(`Started a throwaway redis-server at ${url} in ${ms(start)} (REDIS_URL unset)`)
  }

  console.log('\n@cache/client — one guarded connection')
  const connectStart = performance.now()
  const conn = await connect({ url, namespace: 'demo' })
  console.log(`  ${'connect'.padEnd(44)} ${ms(connectStart).padStart(10)}   "${conn.topology}"`)
  const health = await conn.health()
  console.log(
    `  health: ok=${health.ok} ${health.topology} ${health.role} redis ${health.version}, ${health.latencyMs.toFixed(2)} ms ping, ${(health.usedMemory / 2 ** 20).toFixed(1)} MiB used`,
  )
  const key = conn.keys.key('greeting', 'user:42')
  await timed(`SET ${key}`, () => conn.redis.set(key, 'hello', { PX: 60_000 }))
  await timed(`GET ${key}`, () => conn.redis.get(key))
  const incr = conn.defineScript<number>('demo-incr', "return redis.call('INCRBY', KEYS[1], ARGV[1])", {
    keys: 1,
  })
  await timed('Lua INCRBY via EVALSHA', () => incr([conn.keys.key('counter')], [5]))
  const batch = Array.from({ length: 100 }, (_, i) => conn.keys.key('batch', i))
  await timed('100 SETs, pipelined', () =>
    Promise.all(batch.map((k, i) => conn.redis.set(k, String(i)))).then((r) => r.length),
  )
  await timed('100 GETs, pipelined', () =>
    Promise.all(batch.map((k) => conn.redis.get(k))).then((r) => r.length),
  )

  for (const section of sections) await section(url)

  await conn.close()
  console.log('\nDone.')
}

/** Further demo sections, one per package, each given the server URL. */
const sections: Array<(url: string) => Promise<void>> = [
  async function core(url) {
    console.log('\n@cache/core — memory and Redis caches, stampede-safe read-through')
    const conn = await connect({ url, namespace: 'demo' })
    const cache = new RedisCache<{ id: number; name: string }>(conn, {
      namespace: 'users',
      defaultTtl: '10m',
    })
    await timed('set user:1 (msgpack, tags)', () =>
      cache.set('user:1', { id: 1, name: 'Ada' }, { tags: ['team:a'] }),
    )
    await timed('get user:1', () => cache.get('user:1'))
    let calls = 0
    const load = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      return { id: 2, name: 'Grace' }
    }
    await timed('100 concurrent getOrSet on a cold key', async () => {
      await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('user:2', load)))
      return `factory calls: ${calls}`
    })
    await timed('invalidateTags team:a', () => cache.invalidateTags(['team:a']))
    await timed('get user:1 after invalidation', () => cache.get('user:1'))
    const local = new MemoryCache<string>({ maxEntries: 1000, eviction: 'lru', defaultTtl: '1m' })
    await local.set('k', 'v')
    await timed('MemoryCache get', () => local.get('k'))
    await local.close()
    await cache.close()
    await conn.close()
  },
  async function locks(url) {
    console.log('\n@cache/locks — mutex with fencing tokens')
    const conn = await connect({ url, namespace: 'demo' })
    const locks = new LockManager(conn)
    const tokens: number[] = []
    await timed('3 contenders, one critical section each', async () => {
      await Promise.all(
        [1, 2, 3].map(() =>
          locks.using('invoice:7', { ttl: '5s', waitTimeout: '5s' }, async (lock) => {
            tokens.push(Number(lock.token))
          }),
        ),
      )
      return `fencing tokens in order: ${tokens.join(' < ')}`
    })
    await conn.close()
  },
  async function ratelimit(url) {
    console.log('\n@cache/ratelimit — exact limits in one Lua call')
    const conn = await connect({ url, namespace: 'demo' })
    const limiter = new RateLimiter(conn, { algorithm: 'gcra', limit: 5, window: '1s' })
    await timed('10 requests against 5/s (GCRA)', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => limiter.consume('client:42')))
      return `${results.filter((r) => r.allowed).length} allowed, ${results.filter((r) => !r.allowed).length} denied`
    })
    await conn.close()
  },
  async function events(url) {
    console.log('\n@cache/events — typed pub/sub and streams with consumer groups')
    const conn = await connect({ url, namespace: 'demo' })
    const bus = new PubSub(conn, { schemas: { 'orders.created': z.object({ id: z.number() }) } })
    const received = new Promise<unknown>((resolve) => {
      void bus.subscribe('orders.created', (message) => resolve(message))
    })
    await new Promise((r) => setTimeout(r, 50))
    await timed('publish → receive orders.created', async () => {
      await bus.publish('orders.created', { id: 1 })
      return received
    })
    const stream = new EventStream(conn, 'orders', { schema: z.object({ id: z.number() }), maxLen: 1000 })
    await timed('append 3 events to a stream', async () => {
      for (const id of [1, 2, 3]) await stream.append({ id })
      return 'ok'
    })
    await bus.close?.()
    await conn.close()
  },
]

main()
  .then(() => shutdown(0))
  .catch(async (err) => {
    console.error(err)
    await shutdown(1)
  })
