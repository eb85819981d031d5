// Client and redis-server CPU and p99 per 100-item batch at concurrency C (default 16, the O5 setting),
// contenders in alternating rounds in one process:
//   node --import tsx packages/core/perf/batch-cost.mts
// ROUNDS (6), CALLS per contender per round (3000), C (16), ONLY=name,name (a subset).
import { decode } from '@cache/core'
import { KEYS, runWorkers, setup, VALUE } from './common.mjs'

const C = Number(process.env.C ?? 16)
const ROUNDS = Number(process.env.ROUNDS ?? 6)
const CALLS = Number(process.env.CALLS ?? 3000)

const { raw, rawBuf, cache, keys, redisKeys, stop } = await setup()
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
const only = process.env.ONLY
const chosen = only ? contenders.filter((c) => only.split(',').includes(c.name)) : contenders

async function serverCpuUs(): Promise<number> {
  const info = String(await raw.info('cpu'))
  const f = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0)
  return (f('used_cpu_user') + f('used_cpu_sys')) * 1e6
}

const results = new Map<string, Array<{ client: number; server: number; p99: number }>>()
for (const c of chosen) await runWorkers(C, c.op, 300)
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? chosen : [...chosen].reverse()
  for (const c of order) {
    const s0 = await serverCpuUs()
    const c0 = process.cpuUsage()
    const sorted = await runWorkers(C, c.op, CALLS)
    const n = sorted.length
    const p99 = sorted[Math.floor(n * 0.99)] as number
    const cu = process.cpuUsage(c0)
    const s1 = await serverCpuUs()
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
await stop()
process.exit(0)
