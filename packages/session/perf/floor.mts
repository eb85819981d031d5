// Run: node --conditions=@cache/source --import tsx packages/session/perf/floor.mts (from the repo root).
// The ceiling of the store's commands: stores that send exactly our commands (and connect-redis's) with our
// value and key sizes but none of our logic, through conn.send and through node-redis directly.
import { randomBytes } from 'node:crypto'
import { connect } from '@cache/client'
import { SessionStore } from '@cache/session/express'
import { startStandalone } from '@cache/tools'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { call, fresh, inParallel, MAX_AGE, request } from './common.mjs'

const standalone = await startStandalone()
const conn = await connect({ url: standalone.url, namespace: 'bench-sess' })
const client = createClient({ url: standalone.url })
await client.connect()
const ours = new SessionStore(conn, { tenant: 'b', userId: (s: any) => s.userId })
const cr = new RedisStore({ client, prefix: 'bench-cr:' })
const sids = Array.from({ length: 1000 }, (_, i) => `sid-${i}-${randomBytes(8).toString('hex')}`)
for (const s of [ours, cr] as any[])
  await inParallel(sids.length, 32, (i) => call((cb) => s.set(sids[i]!, fresh(`u${i % 100}`), cb)))
// Minimal stores: our key length (65) and value (header + first chunk + appended chunks, ~354 B on average).
const head =
  '["s2",0,1796334723467,1796377923467,1800000,"b","u66"]\n{"w":1796334723467,"r":1,"l":1796336583467,"s":{"cookie":{"originalMaxAge":1800000,"httpOnly":true,"path":"/"},"views":0,"userId":"u66","cart":[1,2,3]}}'
const chunk = '\n{"w":1796334723567,"s":{"views":1}}'
const fkeys = sids.map(() => `bench-sess:t:b:{${randomBytes(32).toString('base64url').slice(0, 43)}}`)
const crKeys = sids.map((s) => `bench-cr:${s}`)
const n = new Array(1000).fill(0)
for (const [i, k] of fkeys.entries())
  await conn.send(['SET', k, head + chunk.repeat(i % 8), 'PX', '3600000'], { key: k })
const exp = () => String(Date.now() + MAX_AGE)
type Send = (args: string[], key: string) => Promise<unknown>
const viaConn: Send = (a, key) => conn.send(a, { key })
const viaRedis: Send = (a) => client.sendCommand(a)
function floorOurs(send: Send, i: number, change: boolean): Promise<unknown> {
  const k = fkeys[i]!
  return send(['GET', k], k).then(() => {
    if (!change) return send(['PEXPIREAT', k, exp()], k)
    // Every 8th save a compaction (a SET of the whole value here, a script in ours), else APPEND + PEXPIREAT.
    if (++n[i] % 8 === 0) return send(['SET', k, head, 'PXAT', exp()], k)
    return Promise.all([send(['APPEND', k, chunk], k), send(['PEXPIREAT', k, exp()], k)])
  })
}
function floorCr(send: Send, i: number, change: boolean): Promise<unknown> {
  const k = crKeys[i]!
  return send(['GET', k], k).then((v) => {
    if (!change) return send(['EXPIRE', k, '1800'], k)
    return send(['SET', k, String(v), 'EX', '1800'], k)
  })
}
const contenders: Record<string, (i: number, change: boolean) => Promise<unknown>> = {
  'ours store': (i, c) => request(ours, sids[i]!, c),
  'cr store': (i, c) => request(cr, sids[i]!, c),
  'floor ours cmds conn.send': (i, c) => floorOurs(viaConn, i, c),
  'floor ours cmds node-redis': (i, c) => floorOurs(viaRedis, i, c),
  'floor cr cmds node-redis': (i, c) => floorCr(viaRedis, i, c),
}
const N = Number(process.env.N ?? 20000)
const res: Record<string, { rps: number[]; cpu: number[] }> = {}
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  for (const change of [true, false]) {
    for (const [name, op] of Object.entries(contenders)) {
      const id = `${change ? 'get+set  ' : 'get+touch'} ${name}`
      await inParallel(2000, 64, (i) => op((i * 131) % 1000, change))
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await inParallel(N, 64, (i) => op(((i % 64) * 131 + i) % 1000, change))
      const ms = performance.now() - t0
      const c = process.cpuUsage(c0)
      res[id] ??= { rps: [], cpu: [] }
      res[id].rps.push(Math.round((N / ms) * 1000))
      res[id].cpu.push(Math.round(((c.user + c.system) / N) * 10) / 10)
    }
  }
}
for (const [id, r] of Object.entries(res))
  console.log(id.padEnd(40), 'req/s', r.rps.join(' '), ' client us/req', r.cpu.join(' '))
await ours.close()
await conn.close()
await client.quit()
await standalone.stop()
process.exit(0)
