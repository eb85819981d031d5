/**
 * @cache/core against the libraries users would pick instead, measured in the same run:
 * MemoryCache vs lru-cache; RedisCache vs raw node-redis and BentoCache (Redis-only); the codec vs JSON;
 * 100-item mget/mset latency.
 */
import { connect } from '@cache/client'
import { createCodec, MemoryCache, RedisCache } from '@cache/core'
import { createClient } from '@redis/client'
import { BentoCache, bentostore } from 'bentocache'
import { redisDriver } from 'bentocache/drivers/redis'
import { LRUCache } from 'lru-cache'
import {
  defineSuite,
  type Measurement,
  measure,
  measureInterleaved,
  type RatioResult,
  ratio,
} from '../lib.js'

const KEYS = 10_000

function sampleObject(bytes: number): Record<string, unknown> {
  const out: Record<string, unknown> = { id: 42, name: 'Ada Lovelace', active: true, tags: ['a', 'b', 'c'] }
  let i = 0
  while (JSON.stringify(out).length < bytes) {
    out[`field${i}`] = { n: i * 1.5, text: `value number ${i} with some words`, list: [i, i + 1, i + 2] }
    i++
  }
  return out
}

export default defineSuite('core', async (ctx) => {
  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []
  const url = new URL(ctx.standaloneUrl)

  // ---- MemoryCache get hit vs lru-cache ----------------------------------------------------------
  {
    const ours = new MemoryCache<object>({ maxEntries: KEYS * 2 })
    const lru = new LRUCache<string, object>({ max: KEYS * 2 })
    const value = { hello: 'world', n: 1 }
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`)
    for (const k of keys) {
      await ours.set(k, value)
      lru.set(k, value)
    }
    const [l, m] = await measureInterleaved(
      [
        { name: 'memory get hit: lru-cache', op: (_w, i) => lru.get(keys[i % KEYS] as string) },
        { name: 'memory get hit: MemoryCache (lru)', op: (_w, i) => ours.get(keys[i % KEYS] as string) },
      ],
      { concurrency: 1, durationMs: 3000, rounds: 3, scale: ctx.scale },
    )
    measurements.push(l!, m!)
    ratios.push(ratio('MemoryCache get hit throughput vs lru-cache', m!.opsPerSec, l!.opsPerSec, 0.3))
    await ours.close()
  }

  // ---- RedisCache get vs raw node-redis and BentoCache ---------------------------------------------
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-core' })
  const raw = createClient({ url: ctx.standaloneUrl })
  await raw.connect()
  const cache = new RedisCache<object>(conn, { namespace: 'c', defaultTtl: '1h' })
  const plain = new RedisCache<object>(conn, { namespace: 'c', defaultTtl: '1h', coalesce: false })
  const bento = new BentoCache({
    default: 'redis',
    stores: {
      redis: bentostore().useL2Layer(
        redisDriver({ connection: { host: url.hostname, port: Number(url.port) }, prefix: 'bench-bento' }),
      ),
    },
  })
  const value = sampleObject(100)
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`)
  const redisKeys = keys.map((k) => cache.redisKey(k))
  await cache.mset(keys.map((key) => ({ key, value })))
  for (let i = 0; i < KEYS; i += 500) {
    await Promise.all(keys.slice(i, i + 500).map((key) => bento.set({ key, value, ttl: '1h' })))
  }
  for (const concurrency of [1, 64]) {
    const pick = (w: number, i: number) => (w * 7919 + i * 31) % KEYS
    const results = await measureInterleaved(
      [
        { name: 'redis get: raw node-redis GET', op: (w, i) => raw.get(redisKeys[pick(w, i)] as string) },
        {
          name: 'redis get: RedisCache (coalesced MGET)',
          op: (w, i) => cache.get(keys[pick(w, i)] as string),
        },
        { name: 'redis get: RedisCache (coalesce off)', op: (w, i) => plain.get(keys[pick(w, i)] as string) },
        {
          name: 'redis get: BentoCache (Redis only)',
          op: (w, i) => bento.get({ key: keys[pick(w, i)] as string }),
        },
      ],
      { concurrency, durationMs: 6000, rounds: 6, scale: ctx.scale },
    )
    const [r, c, p, b] = results.map((m) => ({ ...m, name: `${m.name} c=${concurrency}` }))
    measurements.push(r!, c!, p!, b!)
    if (concurrency === 64) {
      ratios.push(ratio('RedisCache get c=64 vs raw node-redis GET', c!.opsPerSec, r!.opsPerSec, 1.5))
      ratios.push(ratio('RedisCache get c=64 vs BentoCache Redis-only get', c!.opsPerSec, b!.opsPerSec, 1))
      ratios.push(
        ratio(
          'coalescing on vs off, c=64 (kept only if > 1)',
          c!.opsPerSec,
          p!.opsPerSec,
          1,
          false,
          'same-tick reads coalesced into one MGET',
        ),
      )
    } else {
      ratios.push(
        ratio(
          'RedisCache get c=1 p50 latency vs raw node-redis',
          c!.p50Us,
          r!.p50Us,
          1.1,
          true,
          'lower is better',
        ),
      )
      ratios.push(
        ratio(
          'RedisCache get c=1 mean latency vs raw node-redis',
          c!.meanUs,
          r!.meanUs,
          1.15,
          true,
          'lower is better',
        ),
      )
    }
  }

  // ---- 100-item mget / mset --------------------------------------------------------------------------
  {
    const batch = (i: number) => Array.from({ length: 100 }, (_, j) => keys[(i * 100 + j) % KEYS] as string)
    const mget = await measure('mget 100 items: RedisCache', (_w, i) => cache.mget(batch(i)), {
      concurrency: 1,
      durationMs: 2000,
      scale: ctx.scale,
    })
    const mset = await measure(
      'mset 100 items: RedisCache',
      (_w, i) => cache.mset(batch(i).map((key) => ({ key, value }))),
      { concurrency: 1, durationMs: 2000, scale: ctx.scale },
    )
    measurements.push(mget, mset)
    ratios.push(ratio('mget 100 items p99 vs 50 ms budget (O5)', mget.p99Us, 50_000, 1, true))
    ratios.push(ratio('mset 100 items p99 vs 50 ms budget (O5)', mset.p99Us, 50_000, 1, true))
  }

  // ---- O5: p99 at concurrency 16 on local Redis -----------------------------------------------------
  {
    const opts = { concurrency: 16, durationMs: 3000, scale: ctx.scale }
    const pick = (w: number, i: number) => keys[(w * 7919 + i * 31) % KEYS] as string
    const batch = (w: number, i: number) =>
      Array.from({ length: 100 }, (_, j) => keys[(w * 1009 + i * 100 + j) % KEYS] as string)
    const get16 = await measure('O5 get c=16: RedisCache', (w, i) => cache.get(pick(w, i)), opts)
    const set16 = await measure('O5 set c=16: RedisCache', (w, i) => cache.set(pick(w, i), value), opts)
    const mget16 = await measure(
      'O5 mget 100 items c=16: RedisCache',
      (w, i) => cache.mget(batch(w, i)),
      opts,
    )
    const mset16 = await measure(
      'O5 mset 100 items c=16: RedisCache',
      (w, i) => cache.mset(batch(w, i).map((key) => ({ key, value }))),
      opts,
    )
    measurements.push(get16, set16, mget16, mset16)
    ratios.push(
      ratio('O5 get p99 at c=16 vs 1 ms', get16.p99Us, 1000, 1, true, 'seed target: cache get < 1 ms'),
      ratio('O5 set p99 at c=16 vs 1 ms', set16.p99Us, 1000, 1, true, 'seed target: cache set < 1 ms'),
      ratio(
        'O5 mget 100 p99 at c=16 vs 5 ms',
        mget16.p99Us,
        5000,
        1,
        true,
        'seed target: 100-item batch < 5 ms',
      ),
      ratio(
        'O5 mset 100 p99 at c=16 vs 5 ms',
        mset16.p99Us,
        5000,
        1,
        true,
        'seed target: 100-item batch < 5 ms',
      ),
    )
  }

  // ---- codec: 10 KiB object ------------------------------------------------------------------------
  {
    const doc = sampleObject(10 * 1024)
    const codec = createCodec()
    const uncompressed = createCodec({ compressThreshold: false })
    const jsonBytes = Buffer.byteLength(JSON.stringify(doc))
    const ourBytes = codec.encode(doc).length
    const plainBytes = uncompressed.encode(doc).length
    const [j, o, u] = await measureInterleaved(
      [
        {
          // A cache stores bytes: JSON's string is UTF-8 encoded on the way to Redis and decoded on the way
          // back (node-redis does both for a string value), as msgpack's output already is bytes.
          name: 'codec 10 KiB encode+decode: JSON (to and from UTF-8 bytes)',
          op: () => JSON.parse(Buffer.from(JSON.stringify(doc)).toString()),
        },
        { name: 'codec 10 KiB encode+decode: msgpack+LZ4', op: () => codec.decode(codec.encode(doc)) },
        {
          name: 'codec 10 KiB encode+decode: msgpack',
          op: () => uncompressed.decode(uncompressed.encode(doc)),
        },
      ],
      { concurrency: 1, durationMs: 3000, rounds: 3, scale: ctx.scale },
    )
    j!.extra = { bytes: jsonBytes }
    o!.extra = { bytes: ourBytes }
    u!.extra = { bytes: plainBytes }
    measurements.push(j!, o!, u!)
    ratios.push(ratio('codec msgpack+LZ4 throughput vs JSON (10 KiB)', o!.opsPerSec, j!.opsPerSec, 1))
    ratios.push(ratio('codec msgpack+LZ4 bytes vs JSON (10 KiB)', ourBytes, jsonBytes, 1, true))
  }

  await bento.disconnect()
  await cache.clear()
  await cache.close()
  await plain.close()
  await conn.close()
  await raw.close()
  return {
    suite: 'core',
    description:
      'MemoryCache vs lru-cache (get hit); RedisCache get over 10,000 keys (100-byte object) vs raw node-redis GET and BentoCache with only its Redis layer, at concurrency 1 and 64, with same-tick MGET coalescing on and off; 100-item mget/mset latency; codec encode+decode of a 10 KiB object to and from the bytes a cache stores vs JSON (stringify + UTF-8 encode, UTF-8 decode + parse).',
    settings: { keys: KEYS, valueBytes: 100, redisRounds: 6, otherRounds: 3 },
    measurements,
    ratios,
  }
})
