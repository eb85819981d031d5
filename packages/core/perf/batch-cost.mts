// Client and redis-server CPU and p99 per 100-item batch at concurrency C (default 16, the O5 setting),
// contenders in alternating rounds in one process:
//   node --import tsx packages/core/perf/batch-cost.mts
// Also prints INFO commandstats (usec_per_call) of each contender's first round.
// OLD=<dir of a built dist/esm of core> adds that build's mset (see below).
// ROUNDS (6), CALLS per contender per round (3000), C (16), ONLY=name,name (a subset).
import { connect } from '@cache/client'
import { decode, defaultCodec } from '@cache/core'
import { KEYS, runWorkers, setup, VALUE } from './common.mjs'

const C = Number(process.env.C ?? 16)
const ROUNDS = Number(process.env.ROUNDS ?? 6)
const CALLS = Number(process.env.CALLS ?? 3000)

const { server, raw, rawBuf, conn, cache, keys, redisKeys, stop } = await setup()
const bytes = (await rawBuf.get(redisKeys[0] as string)) as unknown as Buffer
const batch = (w: number, i: number) => Array.from({ length: 100 }, (_, j) => (w * 1009 + i * 100 + j) % KEYS)

const contenders: Array<{ name: string; op: (w: number, i: number) => Promise<unknown> }> = [
  { name: 'raw MGET', op: (w, i) => rawBuf.mGet(batch(w, i).map((j) => redisKeys[j] as string)) },
  {
    name: 'raw MGET+decode',
    op: async (w, i) => {
      const out = await rawBuf.mGet(batch(w, i).map((j) => redisKeys[j] as string))
      return out.map((b) => (b ? decode(b as unknown as Buffer) : undefined))
    },
  },
  { name: 'RedisCache mget', op: (w, i) => cache.mget(batch(w, i).map((j) => keys[j] as string)) },
  {
    name: 'raw MSET (no TTL)',
    op: (w, i) => raw.mSet(batch(w, i).map((j) => [redisKeys[j] as string, bytes] as [string, Buffer])),
  },
  {
    name: 'raw 100 SET PX',
    op: (w, i) => {
      const m = raw.multi()
      for (const j of batch(w, i)) m.set(redisKeys[j] as string, bytes, { PX: 3_600_000 })
      return m.execAsPipeline()
    },
  },
  {
    name: 'raw MSET + 100 PEXPIRE',
    op: (w, i) => {
      const ks = batch(w, i).map((j) => redisKeys[j] as string)
      const m = raw.multi().mSet(ks.map((k) => [k, bytes] as [string, Buffer]))
      for (const k of ks) m.pExpire(k, 3_600_000)
      return m.execAsPipeline()
    },
  },
  {
    // What a pipelined path of ours would pay at least: encode each value, then the raw pipeline.
    name: 'encode + 100 SET PX pipelined',
    op: (w, i) => {
      const m = raw.multi()
      for (const j of batch(w, i))
        m.set(redisKeys[j] as string, defaultCodec.encode(VALUE), { PX: 3_600_000 })
      return m.execAsPipeline()
    },
  },
  {
    name: 'encode + MULTI 100 SET PX EXEC',
    op: (w, i) => {
      const m = raw.multi()
      for (const j of batch(w, i))
        m.set(redisKeys[j] as string, defaultCodec.encode(VALUE), { PX: 3_600_000 })
      return m.exec()
    },
  },
  {
    name: 'encode + 100 guarded SET PX',
    op: (w, i) =>
      Promise.all(
        batch(w, i).map((j) =>
          conn.send(['SET', redisKeys[j] as string, defaultCodec.encode(VALUE), 'PX', '3600000']),
        ),
      ),
  },
  {
    name: 'RedisCache mset',
    op: (w, i) => cache.mset(batch(w, i).map((j) => ({ key: keys[j] as string, value: VALUE }))),
  },
  {
    // An entry with an option property (undefined: the same defaults) takes the per-entry options path.
    name: 'RedisCache mset (entry options)',
    op: (w, i) =>
      cache.mset(batch(w, i).map((j) => ({ key: keys[j] as string, value: VALUE, tags: undefined }))),
  },
]
if (process.env.OLD) {
  // A/B of a change: OLD=<a copy of packages/core/dist/esm made before rebuilding> (run without the
  // @cache/source condition, so that the other contenders use the new build).
  const mod = (await import(`${process.env.OLD}/index.js`)) as typeof import('@cache/core')
  // Its own connection: a connection's script registry holds one source per name.
  const oldConn = await connect({ url: server.url, namespace: 'bench-core' })
  const old = new mod.RedisCache<object>(oldConn, { namespace: 'c', defaultTtl: '1h' })
  contenders.push({
    name: 'RedisCache mset (old build)',
    op: (w, i) => old.mset(batch(w, i).map((j) => ({ key: keys[j] as string, value: VALUE }))),
  })
  contenders.push({
    name: 'RedisCache mset mixed TTLs (old build)',
    op: (w, i) =>
      old.mset(batch(w, i).map((j) => ({ key: keys[j] as string, value: VALUE, ttl: j % 2 ? '1h' : '2h' }))),
  })
}
contenders.push({
  name: 'RedisCache mset mixed TTLs',
  op: (w, i) =>
    cache.mset(batch(w, i).map((j) => ({ key: keys[j] as string, value: VALUE, ttl: j % 2 ? '1h' : '2h' }))),
})
const only = process.env.ONLY
const chosen = only ? contenders.filter((c) => only.split(',').includes(c.name)) : contenders

async function serverCpuUs(): Promise<number> {
  const info = String(await raw.info('cpu'))
  const f = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0)
  return (f('used_cpu_user') + f('used_cpu_sys')) * 1e6
}

/** usec_per_call of every command the server ran since the last CONFIG RESETSTAT (scripts' inner calls too). */
async function commandStats(): Promise<string> {
  const info = String(await raw.info('commandstats'))
  const out: string[] = []
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=\d+,usec_per_call=([0-9.]+)/g)) {
    if (m[1] !== 'info' && m[1] !== 'config') out.push(`${m[1]} ${m[2]} x ${m[3]} us`)
  }
  return out.join(', ')
}

const results = new Map<string, Array<{ client: number; server: number; p99: number }>>()
const stats = new Map<string, string>()
for (const c of chosen) await runWorkers(C, c.op, 300)
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? chosen : [...chosen].reverse()
  for (const c of order) {
    if (r === 0) await raw.configResetStat()
    const s0 = await serverCpuUs()
    const c0 = process.cpuUsage()
    const sorted = await runWorkers(C, c.op, CALLS)
    const n = sorted.length
    const p99 = sorted[Math.floor(n * 0.99)] as number
    const cu = process.cpuUsage(c0)
    const s1 = await serverCpuUs()
    if (r === 0) stats.set(c.name, await commandStats())
    const list = results.get(c.name) ?? []
    list.push({ client: (cu.user + cu.system) / n, server: (s1 - s0) / n, p99 })
    results.set(c.name, list)
  }
}
const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
console.log(
  `c=${C}, ${ROUNDS} rounds of ${CALLS} calls, medians of client / server CPU us per call and p99 ms`,
)
for (const [name, list] of results) {
  console.log(
    `${name.padEnd(20)} client ${med(list.map((x) => x.client)).toFixed(0)}  server ${med(list.map((x) => x.server)).toFixed(0)}` +
      `  p99 ${(med(list.map((x) => x.p99)) / 1000).toFixed(2)} ms`,
  )
}
// Paired per round: a load change hits both contenders of a round about alike.
const pairs: Array<[string, string]> = [
  ['RedisCache mset', 'RedisCache mset (old build)'],
  ['RedisCache mset mixed TTLs', 'RedisCache mset mixed TTLs (old build)'],
]
for (const [a, b] of pairs) {
  const x = results.get(a)
  const y = results.get(b)
  if (!x || !y) continue
  const ratio = (f: (v: { client: number; server: number }) => number) =>
    med(x.map((v, r) => f(v) / f(y[r] as { client: number; server: number }))).toFixed(3)
  console.log(
    `${a} / ${b}, paired per round: client ${ratio((v) => v.client)}, server ${ratio((v) => v.server)}, sum ${ratio((v) => v.client + v.server)}`,
  )
}
console.log('commandstats of the first round (calls x usec_per_call):')
for (const [name, line] of stats) console.log(`${name.padEnd(20)} ${line}`)
await stop()
process.exit(0)
