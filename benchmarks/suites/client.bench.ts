/**
 * What does the guarded path (breaker, round-trip timeout, typed errors, instrumentation hook) cost?
 * GET and SET through @cache/client vs raw node-redis and ioredis, same server, same keys, same run.
 */
import { connect } from '@cache/client'
import { createClient } from '@redis/client'
import { Redis as IORedis } from 'ioredis'
import { defineSuite, type Measurement, measureInterleaved, ratio } from '../lib.js'

export default defineSuite('client', async (ctx) => {
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-client' })
  const raw = createClient({ url: ctx.standaloneUrl })
  await raw.connect()
  const io = new IORedis(ctx.standaloneUrl)
  const value = 'x'.repeat(100)
  const keys = Array.from({ length: 1000 }, (_, i) => `bench-client:k${i}`)
  for (const k of keys) await raw.set(k, value)

  const measurements: Measurement[] = []
  const ratios = []
  for (const concurrency of [1, 64]) {
    const key = (w: number, i: number) => keys[(w * 131 + i) % keys.length]!
    const gets = await measureInterleaved(
      [
        { name: `GET raw node-redis`, op: (w, i) => raw.get(key(w, i)) },
        { name: `GET @cache/client`, op: (w, i) => conn.redis.get(key(w, i)) },
        { name: `GET ioredis`, op: (w, i) => io.get(key(w, i)) },
      ],
      { concurrency, durationMs: 4500, rounds: 3, scale: ctx.scale },
    )
    const sets = await measureInterleaved(
      [
        { name: `SET raw node-redis`, op: (w, i) => raw.set(key(w, i), value) },
        { name: `SET @cache/client`, op: (w, i) => conn.redis.set(key(w, i), value) },
        { name: `SET ioredis`, op: (w, i) => io.set(key(w, i), value) },
      ],
      { concurrency, durationMs: 4500, rounds: 3, scale: ctx.scale },
    )
    measurements.push(...gets, ...sets)
    const [rawGet, ourGet] = gets
    const [rawSet, ourSet] = sets
    ratios.push(
      ratio(`GET throughput vs raw node-redis, c=${concurrency}`, ourGet!.opsPerSec, rawGet!.opsPerSec, 0.95),
    )
    ratios.push(
      ratio(`SET throughput vs raw node-redis, c=${concurrency}`, ourSet!.opsPerSec, rawSet!.opsPerSec, 0.95),
    )
  }
  await conn.close()
  await raw.close()
  io.disconnect()
  return {
    suite: 'client',
    description:
      'GET/SET of a 100-byte value over 1,000 keys on one local redis-server: @cache/client (conn.redis, with breaker, 2 s round-trip timeout and diagnostics) vs raw node-redis and ioredis. Target: ratio >= 0.95 against raw node-redis.',
    settings: { valueBytes: 100, keys: 1000, rounds: 3 },
    measurements,
    ratios,
  }
})
