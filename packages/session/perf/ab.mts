// A/B of the store's client CPU per request: a copy of an earlier build against the current one, in one process,
// alternating rounds (connect-redis 9 beside them for scale).
//   cp -r packages/session/dist/esm packages/session/perf/.before/   (the build to compare against; not committed)
//   ... change, rebuild (nx run @cache/session:build) ...
//   ROUNDS=9 N=20000 node --expose-gc --import tsx packages/session/perf/ab.mts
// SOCKETS=0: through a fake connection (fake-conn.mts), so only the stores' own JavaScript runs (no connect-redis).
// Prints, per request kind, the median and the range of µs per request (user + system) of each store.
/* biome-ignore-all lint/suspicious/noExplicitAny: stores of either kind, called as express-session does */
import { randomBytes } from 'node:crypto'
import { connect } from '@cache/client'
import { Keyring } from '@cache/security'
import { SessionStore } from '@cache/session/express'
import { startStandalone } from '@cache/tools'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { alternate, requestKinds, seed, sessionIds } from './common.mjs'
import { fakeConnection } from './fake-conn.mjs'

const Before = ((await import(new URL('./.before/esm/express.js', import.meta.url).href)) as any)
  .SessionStore as typeof SessionStore
const standalone = await startStandalone()
const real = await connect({ url: standalone.url, namespace: 'bench-sess' })
const sockets = process.env.SOCKETS !== '0'
const conn = sockets ? real : fakeConnection(real.keys)
const client = createClient({ url: standalone.url })
await client.connect()
const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
const userId = (s: any) => s.userId
const sids = sessionIds()
for (const k of requestKinds()) {
  const opts = (ns: string) => ({
    namespace: ns,
    tenant: 'b',
    userId,
    ...(k.enc ? { encryption: keyring } : {}),
  })
  const stores: Record<string, any> = {
    before: new Before(conn, opts(`b-${k.kind}`)),
    after: new SessionStore(conn, opts(`a-${k.kind}`)),
  }
  if (!k.enc && sockets) stores['connect-redis'] = new RedisStore({ client, prefix: `cr-${k.kind}:` })
  for (const s of Object.values(stores)) await seed(s, sids)
  const line = await alternate(
    stores,
    k.change,
    sids,
    Number(process.env.N ?? 20_000),
    Number(process.env.ROUNDS ?? 7),
  )
  console.log(`${k.name}${sockets ? '' : ', no sockets'}: ${line} µs/request`)
  for (const s of Object.values(stores)) if (typeof s.close === 'function') await s.close()
}
await real.close()
await client.quit()
await standalone.stop()
process.exit(0)
