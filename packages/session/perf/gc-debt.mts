// Run: node --expose-gc --conditions=@cache/source --import tsx packages/session/perf/gc-debt.mts
// Whether one store's CPU per request (process.cpuUsage: every thread, GC helpers included) carries the
// garbage of the store measured before it: connect-redis's get + touch measured right after ours, and
// after a full GC.
import { randomBytes } from 'node:crypto'
import { connect } from '@cache/client'
import { SessionStore } from '@cache/session/express'
import { startStandalone } from '@cache/tools'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { call, fresh, inParallel, request } from './common.mjs'

const standalone = await startStandalone()
const conn = await connect({ url: standalone.url, namespace: 'bench-sess' })
const client = createClient({ url: standalone.url })
await client.connect()
const stores = {
  ours: new SessionStore(conn, { tenant: 'b', userId: (s) => (s as { userId: string }).userId }),
  cr: new RedisStore({ client, prefix: 'bench-cr:' }),
}
const sids = Array.from({ length: 1000 }, (_, i) => `sid-${i}-${randomBytes(8).toString('hex')}`)
for (const s of Object.values(stores))
  await inParallel(sids.length, 32, (i) => call((cb) => s.set(sids[i]!, fresh(`u${i % 100}`) as never, cb)))
const gc = (globalThis as { gc?: () => void }).gc!
const N = 20_000
const cpu = async (name: 'ours' | 'cr') => {
  const c0 = process.cpuUsage()
  await inParallel(N, 64, (i) => request(stores[name], sids[((i % 64) * 131 + i) % 1000]!, false))
  const c = process.cpuUsage(c0)
  return ((c.user + c.system) / N).toFixed(1)
}
for (let r = 0; r < 4; r++) {
  const a = await cpu('ours')
  const b = await cpu('cr')
  gc()
  const c = await cpu('cr')
  gc()
  const d = await cpu('ours')
  gc()
  console.log(
    `ours ${a}, cr right after ours ${b}, cr after a full GC ${c}, ours after a full GC ${d} (us/request)`,
  )
}
await stores.ours.close()
await conn.close()
await client.quit()
await standalone.stop()
