import { connect } from '@cache/client'
import { createRateLimiter } from '@cache/ratelimit'
import { startStandalone } from '@cache/tools'

const s = await startStandalone()
const conn = await connect({ url: s.url, namespace: 'p' })
const l = createRateLimiter(conn, { algorithm: 'fixed-window', limit: 10_000_000, window: '1h' })
const b = createRateLimiter(conn, { algorithm: 'fixed-window', limit: 1, window: '1h', name: 'b' })
await b.consume('x')
await b.consume('x')
for (const [name, op] of [
  ['redis', () => l.consume('hot')],
  ['cache', () => b.consume('x')],
] as const) {
  const end = performance.now() + 2000
  let n = 0
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        await op()
        n++
      }
    }),
  )
  console.log(name, Math.round(n / 2), 'ops/s')
}
await conn.close()
await s.stop()
