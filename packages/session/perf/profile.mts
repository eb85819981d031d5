// Runs one store request kind for a while, for node --cpu-prof (then perf/inclusive.mjs on the profile):
// MODE=set|touch STORE=plain|enc N=100000 node --conditions=@cache/source --import tsx --cpu-prof packages/session/perf/profile.mts
// SOCKETS=0: through the fake connection (fake-conn.mts), so only the store's own JavaScript runs.
import { randomBytes } from 'node:crypto'
import { connect } from '@cache/client'
import { Keyring } from '@cache/security'
import { SessionStore } from '@cache/session/express'
import { startStandalone } from '@cache/tools'
import { call, fresh, inParallel, request } from './common.mjs'
import { fakeConnection } from './fake-conn.mjs'

const standalone = await startStandalone()
const real = await connect({ url: standalone.url, namespace: 'bench-sess' })
const conn = process.env.SOCKETS === '0' ? fakeConnection(real.keys) : real
const enc = process.env.STORE === 'enc'
const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
const ours = new SessionStore(conn, {
  tenant: 'b',
  userId: (s: any) => s.userId,
  ...(enc ? { encryption: keyring } : {}),
})
const sids = Array.from({ length: 1000 }, (_, i) => `sid-${i}-${randomBytes(8).toString('hex')}`)
await inParallel(sids.length, 32, (i) => call((cb) => ours.set(sids[i]!, fresh(`u${i % 100}`) as any, cb)))
const change = process.env.MODE !== 'touch'
const N = Number(process.env.N ?? 100000)
const c0 = process.cpuUsage()
await inParallel(N, 64, (i) => request(ours, sids[((i % 64) * 131 + i) % 1000]!, change))
const c = process.cpuUsage(c0)
console.log('client us/req', ((c.user + c.system) / N).toFixed(1))
await ours.close()
await real.close()
await standalone.stop()
process.exit(0)
