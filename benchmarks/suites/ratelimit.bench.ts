/**
 * @cache/ratelimit against the limiters users would pick instead, same server, same run:
 * rate-limiter-flexible (RateLimiterRedis on ioredis) and express-rate-limit's Redis store
 * (rate-limit-redis on ioredis, measured at the store's increment(), the per-request Redis work of the
 * middleware, so the peer's middleware overhead is not even counted).
 */
import { connect } from '@cache/client'
import { RateLimiter } from '@cache/ratelimit'
import { createClient } from '@redis/client'
import { Redis as IORedis } from 'ioredis'
import { RedisStore } from 'rate-limit-redis'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { defineSuite, type Measurement, measureInterleaved, type RatioResult, ratio } from '../lib.js'

export default defineSuite('ratelimit', async (ctx) => {
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-rl' })
  const io = new IORedis(ctx.standaloneUrl)
  // The floor of any Redis limiter: a bare INCR + PEXPIRE NX pair per request, pipelined, no script
  // (a window from the first hit, no block, no exactness on denial): information, not a contender.
  const raw = createClient({ url: ctx.standaloneUrl })
  await raw.connect()
  const concurrency = 64
  const opts = { concurrency, durationMs: 6000, rounds: 3, scale: ctx.scale }
  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []
  let run = 0

  const contenders = (limit: number, prefix: string) => {
    const id = `${prefix}${run++}`
    const ours = new RateLimiter(conn, { algorithm: 'fixed-window', limit, window: '1h', name: `fw${id}` })
    const oursGcra = new RateLimiter(conn, { algorithm: 'gcra', limit, window: '1h', name: `g${id}` })
    const rlf = new RateLimiterRedis({
      storeClient: io,
      points: limit,
      duration: 3600,
      keyPrefix: `rlf${id}`,
    })
    const store = new RedisStore({
      sendCommand: (...args: string[]) => io.call(args[0]!, ...args.slice(1)) as never,
      prefix: `erl${id}:`,
    })
    store.init({ windowMs: 3_600_000 } as never)
    return { ours, oursGcra, rlf, store }
  }
  const rlfConsume = (rlf: RateLimiterRedis, key: string) =>
    rlf.consume(key).then(
      () => true,
      (rej: unknown) => {
        if (rej instanceof Error) throw rej
        return false
      },
    )

  for (const [label, keyCount] of [
    ['one key', 1],
    ['1,000 keys', 1000],
  ] as const) {
    const c = contenders(10_000_000, 't')
    const key = (w: number, i: number) => (keyCount === 1 ? 'hot' : `k${(w * 131 + i) % keyCount}`)
    const floorPrefix = `floor${run++}:`
    const floor = async (w: number, i: number) => {
      const k = floorPrefix + key(w, i)
      const [n] = await Promise.all([raw.incr(k), raw.pExpire(k, 3_600_000, 'NX')])
      return n <= 10_000_000
    }
    const [ours, rlf, erl, gcra, bare] = await measureInterleaved(
      [
        { name: `consume ${label}: @cache/ratelimit fixed-window`, op: (w, i) => c.ours.consume(key(w, i)) },
        { name: `consume ${label}: rate-limiter-flexible`, op: (w, i) => rlfConsume(c.rlf, key(w, i)) },
        {
          name: `consume ${label}: express-rate-limit + rate-limit-redis`,
          op: (w, i) => c.store.increment(key(w, i)),
        },
        { name: `consume ${label}: @cache/ratelimit gcra`, op: (w, i) => c.oursGcra.consume(key(w, i)) },
        { name: `consume ${label}: bare INCR + PEXPIRE NX pipeline (node-redis, the floor)`, op: floor },
      ],
      opts,
    )
    measurements.push(ours!, rlf!, erl!, gcra!, bare!)
    ratios.push(ratio(`consume ${label} c=64 vs rate-limiter-flexible`, ours!.opsPerSec, rlf!.opsPerSec, 1.3))
    ratios.push(
      ratio(
        `consume ${label} c=64 vs express-rate-limit + rate-limit-redis`,
        ours!.opsPerSec,
        erl!.opsPerSec,
        1.3,
      ),
    )
    ratios.push(
      ratio(
        `consume ${label} c=64 vs a bare INCR + PEXPIRE NX pipeline (information)`,
        ours!.opsPerSec,
        bare!.opsPerSec,
        0,
        false,
        'informational: the floor of any Redis limiter, two plain commands per request and no script (a window from the first hit, no block, denials counted); @cache/ratelimit batches same-tick requests into one script call whose fixed-window consume is one HINCRBY per request',
      ),
    )
  }

  // A blocked key under flood: every request is over the limit.
  const c = contenders(1, 'b')
  const rlfBlock = new RateLimiterRedis({
    storeClient: io,
    points: 1,
    duration: 3600,
    keyPrefix: `rlfblk${run++}`,
    inMemoryBlockOnConsumed: 1,
    inMemoryBlockDuration: 3600,
  })
  await c.ours.consume('flood')
  await rlfConsume(c.rlf, 'flood')
  await rlfConsume(rlfBlock, 'flood')
  await c.store.increment('flood')
  const [ours, rlf, erl, rlfMem] = await measureInterleaved(
    [
      { name: 'blocked-key flood: @cache/ratelimit', op: () => c.ours.consume('flood') },
      { name: 'blocked-key flood: rate-limiter-flexible', op: () => rlfConsume(c.rlf, 'flood') },
      {
        name: 'blocked-key flood: express-rate-limit + rate-limit-redis',
        op: () => c.store.increment('flood'),
      },
      {
        name: 'blocked-key flood: rate-limiter-flexible with inMemoryBlockOnConsumed (opt-in)',
        op: () => rlfConsume(rlfBlock, 'flood'),
      },
    ],
    opts,
  )
  measurements.push(ours!, rlf!, erl!, rlfMem!)
  ratios.push(ratio('blocked-key flood c=64 vs rate-limiter-flexible', ours!.opsPerSec, rlf!.opsPerSec, 10))
  ratios.push(
    ratio(
      'blocked-key flood c=64 vs express-rate-limit + rate-limit-redis',
      ours!.opsPerSec,
      erl!.opsPerSec,
      10,
    ),
  )
  ratios.push(
    ratio(
      'blocked-key flood c=64 vs rate-limiter-flexible inMemoryBlockOnConsumed',
      ours!.opsPerSec,
      rlfMem!.opsPerSec,
      1,
      false,
      'informational: the peer with its opt-in in-memory block, which @cache/ratelimit has on by default',
    ),
  )

  await conn.close()
  await raw.close()
  io.disconnect()
  return {
    suite: 'ratelimit',
    description:
      'consume() at concurrency 64 on one local redis-server: @cache/ratelimit (fixed-window, and GCRA for reference) vs rate-limiter-flexible RateLimiterRedis and express-rate-limit + rate-limit-redis (store.increment), on one hot key and over 1,000 keys with a limit never reached, then a flood on a key over its limit. Targets: >= 1.3x throughput, >= 10x on the blocked-key flood.',
    settings: { concurrency, rounds: 3, window: '1h', algorithm: 'fixed-window' },
    measurements,
    ratios,
  }
})
