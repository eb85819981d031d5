// Where one store request kind allocates (sampled, garbage included): the heap profiler's sampling with the
// objects collected by minor and major GCs kept, summed by allocating function (self) and by call path:
// MODE=set|touch STORE=plain|enc|cr (connect-redis 9) N=100000 node --import tsx packages/session/perf/alloc.mts
import { randomBytes } from 'node:crypto'
import { Session } from 'node:inspector/promises'
import { connect } from '@cache/client'
import { Keyring } from '@cache/security'
import { SessionStore } from '@cache/session/express'
import { startStandalone } from '@cache/tools'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { inParallel, request, seed, sessionIds, sidOf } from './common.mjs'

const standalone = await startStandalone()
const conn = await connect({ url: standalone.url, namespace: 'bench-sess' })
const enc = process.env.STORE === 'enc'
const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
const client = createClient({ url: standalone.url })
await client.connect()
const ours: any =
  process.env.STORE === 'cr'
    ? new RedisStore({ client, prefix: 'cr:' })
    : new SessionStore(conn, {
        tenant: 'b',
        userId: (s: any) => s.userId,
        ...(enc ? { encryption: keyring } : {}),
      })
const sids = sessionIds()
await seed(ours, sids)
const change = process.env.MODE !== 'touch'
const N = Number(process.env.N ?? 100000)
await inParallel(N / 4, 64, (i) => request(ours, sidOf(sids, i), change))
const session = new Session()
session.connect()
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 256,
  includeObjectsCollectedByMinorGC: true,
  includeObjectsCollectedByMajorGC: true,
} as any)
await inParallel(N, 64, (i) => request(ours, sidOf(sids, i), change))
const { profile } = (await session.post('HeapProfiler.stopSampling')) as any
interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: Node[]
}
const self = new Map<string, number>()
let total = 0
const name = (n: Node) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
const walk = (n: Node, path: string) => {
  const p = path ? `${path} < ${name(n)}` : name(n)
  total += n.selfSize
  if (n.selfSize) {
    const k = `${name(n)}  [${path.split(' < ').slice(-2).join(' < ')}]`
    self.set(k, (self.get(k) ?? 0) + n.selfSize)
  }
  for (const c of n.children) walk(c, p)
}
walk(profile.head, '')
console.log(`sampled bytes per request ${(total / N).toFixed(0)}`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40)))
  console.log(`${(v / N).toFixed(0).padStart(6)} B/req  ${k}`)
await ours.close?.()
await client.quit()
await conn.close()
await standalone.stop()
process.exit(0)
