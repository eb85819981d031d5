// What the core perf scripts share: a harness server, the suite's 10,000 keys of its 100-byte object, a
// RedisCache and a raw node-redis client (reading Buffers, as the suite's raw contender does).
import { connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { startStandalone } from '@cache/tools'
import { createClient, RESP_TYPES } from '@redis/client'

export const KEYS = 10_000

/** The core suite's `sampleObject(100)`: the 105-byte stored value its RedisCache get reads. */
export const VALUE = {
  id: 42,
  name: 'Ada Lovelace',
  active: true,
  tags: ['a', 'b', 'c'],
  field0: { n: 0, text: 'value number 0 with some words', list: [0, 1, 2] },
}

/** Starts the server and fills it: `keys` (user keys) and `redisKeys` (their value keys). */
export async function setup() {
  const server = await startStandalone()
  const conn = await connect({ url: server.url, namespace: 'bench-core' })
  const raw = createClient({ url: server.url })
  await raw.connect()
  const rawBuf = raw.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
  const cache = new RedisCache<object>(conn, { namespace: 'c', defaultTtl: '1h' })
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`)
  const redisKeys = keys.map((k) => cache.redisKey(k))
  await cache.mset(keys.map((key) => ({ key, value: VALUE })))
  const stop = async () => {
    await cache.close()
    await conn.close()
    await raw.close()
    await server.stop()
  }
  return { server, conn, raw, rawBuf, cache, keys, redisKeys, stop }
}

/** The bench suite's loop: `c` workers, `n` operations in all, each op's latency (us) recorded; sorted. */
export async function runWorkers(c: number, op: (w: number, i: number) => Promise<unknown>, n: number) {
  const latencies: number[] = []
  let left = n
  await Promise.all(
    Array.from({ length: c }, async (_, w) => {
      let i = 0
      while (left-- > 0) {
        const t0 = performance.now()
        await op(w, i++)
        latencies.push((performance.now() - t0) * 1000)
      }
    }),
  )
  return latencies.sort((a, b) => a - b)
}
