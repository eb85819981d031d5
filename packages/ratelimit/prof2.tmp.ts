import { connect } from '@cache/client'
import { createRateLimiter } from '@cache/ratelimit'
import { startStandalone } from '@cache/tools'
import { Redis as IORedis } from 'ioredis'
import { RedisStore } from 'rate-limit-redis'

const s = await startStandalone()
const conn = await connect({ url: s.url, namespace: 'p' })
const io = new IORedis(s.url)
const store = new RedisStore({
  sendCommand: (...args: string[]) => io.call(args[0]!, ...args.slice(1)) as never,
})
store.init({ windowMs: 3_600_000 } as never)
const l = createRateLimiter(conn, { algorithm: 'fixed-window', limit: 10_000_000, window: '1h' })
const g = createRateLimiter(conn, { algorithm: 'gcra', limit: 10_000_000, window: '1h' })
for (const [name, op] of [
  ['ours', (i: number) => l.consume('k' + (i % 1000))],
  ['gcra', (i: number) => g.consume('k' + (i % 1000))],
  ['erl', (i: number) => store.increment('k' + (i % 1000))],
] as const) {
  await conn.send(['CONFIG', 'RESETSTAT'])
  const end = performance.now() + 2000
  let n = 0
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      let i = w * 17
      while (performance.now() < end) {
        await op(i++)
        n++
      }
    }),
  )
  const info = String(await conn.send(['INFO', 'commandstats']))
    .split('\n')
    .filter((x) => x.includes('eval'))
  console.log(name, Math.round(n / 2), 'ops/s', info.join(' '))
}
await conn.close()
io.disconnect()
await s.stop()
