// Client CPU (publisher and subscriber are this process), redis-server CPU and wall time per message of the
// events suite's publish→receive loop at concurrency C (default 32): raw node-redis PUBLISH/SUBSCRIBE vs
// @cache/events PubSub, and two hybrids that split our cost into its publish and receive sides (our
// envelope sent by conn.send / by the raw client, received by the bus). Contenders in alternating rounds in
// one process; paired per-round ratios against raw:
//   node --conditions=@cache/source --import tsx packages/events/perf/pubsub-cost.mts
// OLD=<dir of a built dist/esm> adds that build's bus as a contender (A/B of a change), ROUNDS (10), OPS per contender per round (40000), C (32), PROFILE=<contender> runs only that one (for
// --cpu-prof), PROFILE_DIR=<dir> saves a CPU profile of every measured round there.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { connect } from '@cache/client'
import { PubSub } from '@cache/events'
import { startStandalone } from '@cache/tools'
import { createClient } from '@redis/client'

const C = Number(process.env.C ?? 32)
const ROUNDS = Number(process.env.ROUNDS ?? 10)
const OPS = Number(process.env.OPS ?? 40_000)

const server = await startStandalone()
const conn = await connect({ url: server.url, namespace: 'bench-events' })
const raw = createClient({ url: server.url })
const rawSub = raw.duplicate()
await Promise.all([raw.connect(), rawSub.connect()])

const waiters = new Map<number, () => void>()
const wake = (n: number) => {
  waiters.get(n)?.()
  waiters.delete(n)
}
const bus = new PubSub(conn)
await bus.subscribe('latency', (msg) => wake((msg as { n: number }).n))
await rawSub.subscribe('bench-events:raw-latency', (message) =>
  wake((JSON.parse(message) as { n: number }).n),
)
const busChannel = `${bus.channelPrefix}latency`
const envelope = (n: number) => `{"v":1,"src":${JSON.stringify(bus.id)},"data":${JSON.stringify({ n })}}`

let seq = 0
const roundTrip = (publish: (n: number) => Promise<unknown>) => async () => {
  const n = seq++
  const received = new Promise<void>((resolve) => waiters.set(n, resolve))
  await publish(n)
  await received
}
let oldBus: PubSub | undefined
const oldContender: Array<{ name: string; op: () => Promise<void> }> = []
if (process.env.OLD) {
  // A/B of a change: the bus of another build (copy dist/esm aside before rebuilding).
  const mod = (await import(`${process.env.OLD}/index.js`)) as typeof import('@cache/events')
  const old = new mod.PubSub(conn)
  oldBus = old
  await old.subscribe('latency-old', (msg) => wake((msg as { n: number }).n))
  oldContender.push({ name: 'old ours', op: roundTrip((n) => old.publish('latency-old', { n })) })
}
const contenders = [
  ...oldContender,
  { name: 'raw', op: roundTrip((n) => raw.publish('bench-events:raw-latency', JSON.stringify({ n }))) },
  { name: 'ours', op: roundTrip((n) => bus.publish('latency', { n })) },
  {
    name: 'conn.send → bus',
    op: roundTrip((n) => conn.send(['PUBLISH', busChannel, envelope(n)], { key: busChannel })),
  },
  { name: 'raw client → bus', op: roundTrip((n) => raw.publish(busChannel, envelope(n))) },
]

/** The suite's loop: C workers, n operations in all, each op's latency (us) recorded. */
async function loop(op: () => Promise<unknown>, n: number) {
  const latencies: number[] = []
  let left = n
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (left-- > 0) {
        const t0 = performance.now()
        await op()
        latencies.push((performance.now() - t0) * 1000)
      }
    }),
  )
  return latencies.sort((a, b) => a - b)
}

async function serverCpu() {
  const info = String(await raw.info('cpu'))
  const at = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return (at('used_cpu_user') + at('used_cpu_sys')) * 1e6
}

const profileDir = process.env.PROFILE_DIR
const inspector = profileDir ? new Session() : undefined
inspector?.connect()
await inspector?.post('Profiler.enable')
await inspector?.post('Profiler.setSamplingInterval', { interval: 100 })

async function run(name: string, op: () => Promise<unknown>, n: number, round: number) {
  if (inspector) await inspector.post('Profiler.start')
  const s0 = await serverCpu()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const latencies = await loop(op, n)
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  const redis = ((await serverCpu()) - s0) / n
  if (inspector) {
    const { profile } = await inspector.post('Profiler.stop')
    writeFileSync(`${profileDir}/${name.replace(/\W+/g, '_')}-${round}.cpuprofile`, JSON.stringify(profile))
  }
  return {
    cpuUs: (cpu.user + cpu.system) / n,
    redisUs: redis,
    wallUs: (wall * 1000) / n,
    p50Us: latencies[Math.floor(latencies.length / 2)] as number,
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2
    ? (s[s.length >> 1] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}
const r2 = (x: number) => Math.round(x * 100) / 100
const r3 = (x: number) => Math.round(x * 1000) / 1000

if (process.env.PROFILE) {
  const c = contenders.find((x) => x.name === process.env.PROFILE)
  if (!c) throw new Error(`PROFILE=<contender>: ${contenders.map((x) => x.name).join(', ')}`)
  await loop(c.op, OPS * ROUNDS)
} else {
  for (const c of contenders) await loop(c.op, OPS / 4)
  type M = Awaited<ReturnType<typeof run>>
  const got = new Map<string, M[]>(contenders.map((c) => [c.name, []]))
  const paired = new Map<string, { cpu: number[]; p50: number[] }>(
    contenders.map((c) => [c.name, { cpu: [], p50: [] }]),
  )
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse()
    const round = new Map<string, M>()
    for (const c of order) {
      const m = await run(c.name, c.op, OPS, r)
      round.set(c.name, m)
      got.get(c.name)?.push(m)
    }
    const base = round.get('raw') as M
    for (const [name, m] of round) {
      paired.get(name)?.cpu.push(m.cpuUs / base.cpuUs)
      paired.get(name)?.p50.push(m.p50Us / base.p50Us)
    }
  }
  for (const c of contenders) {
    const ms = got.get(c.name) ?? []
    const p = paired.get(c.name) as { cpu: number[]; p50: number[] }
    console.log(
      `${c.name.padEnd(18)} c=${C} cpu/msg ${r2(median(ms.map((m) => m.cpuUs)))} us, redis-server ${r2(median(ms.map((m) => m.redisUs)))} us, wall/msg ${r2(median(ms.map((m) => m.wallUs)))} us, p50 ${r2(median(ms.map((m) => m.p50Us)))} us` +
        (c.name === 'raw'
          ? ''
          : `  vs raw: cpu ${r3(median(p.cpu))} p50 ${r3(median(p.p50))} (rounds: cpu ${p.cpu.map(r3).join(' ')}; p50 ${p.p50.map(r3).join(' ')})`),
    )
  }
}
await Promise.all([bus.close(), oldBus?.close()])
await conn.close()
await Promise.all([raw.close(), rawSub.close()])
await server.stop()
