// Client CPU per GET/SET at concurrency C (default 64) through the guarded path vs raw node-redis, contenders
// in alternating rounds in one process (the client suite's loop: performance.now per op, latency pushed):
//   node --conditions=@cache/source --import tsx packages/client/perf/path-cost.mts
// ROUNDS (10), OPS per contender per round (60000), C (64), CMDS (GET,SET), OLD=<dir of a built dist/esm> adds that build as
// a contender (A/B of a change: copy dist/esm aside before rebuilding).
import { connect } from '@cache/client'
import { startStandalone } from '@cache/tools'
import { createClient } from '@redis/client'

const C = Number(process.env.C ?? 64)
const ROUNDS = Number(process.env.ROUNDS ?? 10)
const OPS = Number(process.env.OPS ?? 60_000)

const server = await startStandalone()
const conn = await connect({ url: server.url, namespace: 'bench-client' })
const raw = createClient({ url: server.url })
await raw.connect()
const value = 'x'.repeat(100)
const keys = Array.from({ length: 1000 }, (_, i) => `bench-client:k${i}`)
for (const k of keys) await raw.set(k, value)
const key = (w: number, i: number) => keys[(w * 131 + i) % keys.length] as string

type Redis = { get(k: string): Promise<unknown>; set(k: string, v: string): Promise<unknown> }
const contenders: Array<{ name: string; redis: Redis }> = [
  { name: 'raw', redis: raw as unknown as Redis },
  { name: 'ours', redis: conn.redis as unknown as Redis },
]
let old: { close(): Promise<void> } | undefined
if (process.env.OLD) {
  const mod = (await import(`${process.env.OLD}/index.js`)) as typeof import('@cache/client')
  const c = await mod.connect({ url: server.url, namespace: 'bench-client' })
  old = c
  contenders.push({ name: 'old', redis: c.redis as unknown as Redis })
}

async function run(op: (w: number, i: number) => Promise<unknown>, n: number) {
  const latencies: number[] = []
  let left = n
  await Promise.all(
    Array.from({ length: C }, async (_, w) => {
      let i = 0
      while (left-- > 0) {
        const t0 = performance.now()
        await op(w, i++)
        latencies.push((performance.now() - t0) * 1000)
      }
    }),
  )
}

/** redis-server socket reads so far (fewer per command: the client sent bigger batches). */
async function serverReads() {
  const info = String(await raw.info('stats'))
  return Number(/total_reads_processed:(\d+)/.exec(info)?.[1] ?? 0)
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2
    ? (s[s.length >> 1] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}
for (const cmd of (process.env.CMDS ?? 'GET,SET').split(',') as Array<'GET' | 'SET'>) {
  const ops = contenders.map((c) => ({
    name: c.name,
    op:
      cmd === 'GET'
        ? (w: number, i: number) => c.redis.get(key(w, i))
        : (w: number, i: number) => c.redis.set(key(w, i), value),
  }))
  for (const c of ops) await run(c.op, 10_000)
  const cpu = new Map<string, number[]>(ops.map((c) => [c.name, []]))
  const rel = new Map<string, number[]>(ops.map((c) => [c.name, []]))
  const ab: number[] = []
  const reads = new Map<string, number[]>(ops.map((c) => [c.name, []]))
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ops : [...ops].reverse()
    const round = new Map<string, number>()
    for (const c of order) {
      const r0 = await serverReads()
      const c0 = process.cpuUsage()
      await run(c.op, OPS)
      const cu = process.cpuUsage(c0)
      reads.get(c.name)?.push(OPS / ((await serverReads()) - r0))
      round.set(c.name, (cu.user + cu.system) / OPS)
    }
    for (const [name, us] of round) {
      cpu.get(name)?.push(us)
      rel.get(name)?.push((round.get('raw') as number) / us)
    }
    if (round.has('old')) ab.push((round.get('old') as number) / (round.get('ours') as number))
  }
  if (ab.length)
    console.log(`${cmd} c=${C} old/ours CPU per round median ${median(ab).toFixed(3)} (${ab.length} rounds)`)
  for (const c of ops) {
    const xs = cpu.get(c.name) as number[]
    console.log(
      `${cmd} c=${C} ${c.name.padEnd(5)} client CPU/op median ${median(xs).toFixed(3)} us (min ${Math.min(...xs).toFixed(3)}), raw/this per round median ${median(rel.get(c.name) as number[]).toFixed(3)}, commands per server read ${median(reads.get(c.name) as number[]).toFixed(1)}`,
    )
  }
}
await conn.close()
await old?.close()
await raw.close()
await server.stop()
