/**
 * CPU per add, latency per add (p50/p90/p99/p99.9, mean), GC time and Redis commands per add: @cache/queue add
 * vs raw BullMQ Queue.add (counter ids) vs raw BullMQ with `jobId: randomUUID()` (also on a connection with
 * our producer's `commandTimeout`, raw+uuid+ct; and our own BullMQ Queue called directly, ours.queue+uuid),
 * alternating rounds on one harness server.
 * Usage (from /work/main): node --import tsx packages/queue/perf/add-cost.mts [adds-per-round] [rounds] [concurrency]
 * KINDS=ours,raw+uuid picks contenders; BULK=100 measures addBulk calls of 100 jobs instead (figures
 * per call); STUB=1 (KINDS=ours,ours.queue+uuid) our wrapper's CPU alone; for a profile: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx …
 */
import { randomUUID } from 'node:crypto'
import { PerformanceObserver } from 'node:perf_hooks'
import { type ConnectionOptions, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { data, setup } from './setup.mjs'

const N = Number(process.argv[2] ?? 5000)
const ROUNDS = Number(process.argv[3] ?? 6)
/** Adds in flight at once. */
const C = Number(process.argv[4] ?? 1)
const { conn, ours, raw, admin, serverCpuUs, cmdstats, close } = await setup()
// raw BullMQ on a connection with our producer's commandTimeout (ioredis arms a timer per command)
const ctConn = new Redis({ ...(conn.bullmq().options as object), commandTimeout: 5_000 } as never)
const rawCt = new Queue('raw-ct', {
  connection: ctConn as unknown as ConnectionOptions,
  prefix: 'bench-raw',
  defaultJobOptions: { ...ours.queue.defaultJobOptions },
})
// (the same job options as ours; only adds run here, so its backoff type needs no strategy)
const PREFIX = `${randomUUID().slice(0, 8)}-`
let seq = 0
/** BULK=100: every call is an addBulk of that many jobs (figures stay per call). */
const BULK = Number(process.env.BULK ?? 0)
const batch = (i: number) =>
  Array.from({ length: BULK }, (_, k) => ({ name: 'job' as const, data: data(i * BULK + k) }))
const withUuid = (b: ReturnType<typeof batch>) => b.map((j) => ({ ...j, opts: { jobId: randomUUID() } }))
// STUB=1: our BullMQ Queue's add/addBulk resolve at once (no Redis), so ours vs ours.queue+uuid is the CPU of
// our wrapper alone (validation, job options, deadline, meters, id mapping)
if (process.env.STUB) {
  const q = ours.queue as unknown as Record<string, unknown>
  q.add = async (_n: string, _d: unknown, o: { jobId: string }) => ({ id: o.jobId })
  q.addBulk = async (jobs: Array<{ opts: { jobId: string } }>) => jobs.map((j) => ({ id: j.opts.jobId }))
}
const all: Record<string, (i: number) => Promise<unknown>> = BULK
  ? {
      ours: (i) => ours.addBulk(batch(i)),
      'ours.queue+uuid': (i) => ours.queue.addBulk(withUuid(batch(i))),
      raw: (i) => raw.addBulk(batch(i)),
      'raw+uuid': (i) => raw.addBulk(withUuid(batch(i))),
      'raw+uuid+ct': (i) => rawCt.addBulk(withUuid(batch(i))),
    }
  : {
      ours: (i) => ours.add('job', data(i)),
      // our BullMQ Queue (our producer connection and job options) without our add() around it
      'ours.queue+uuid': (i) => ours.queue.add('job', data(i), { jobId: randomUUID() }),
      raw: (i) => raw.add('job', data(i)),
      'raw+uuid': (i) => raw.add('job', data(i), { jobId: randomUUID() }),
      'raw+uuid+ct': (i) => rawCt.add('job', data(i), { jobId: randomUUID() }),
      'raw+short': (i) => raw.add('job', data(i), { jobId: `${PREFIX}${(seq++).toString(36)}` }),
    }
const kinds: typeof all = {}
for (const k of process.env.KINDS?.split(',') ?? Object.keys(all)) kinds[k] = all[k] as (typeof all)[string]
/** Per contender, one entry a round. */
const per = Object.fromEntries(
  Object.keys(kinds).map((k) => [
    k,
    {
      wall: [] as number[],
      srv: [] as number[],
      cpu: [] as number[],
      gc: [] as number[],
      lat: [] as Float64Array[],
    },
  ]),
)
const cmds: Record<string, string> = {}
let gcMs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration
}).observe({ entryTypes: ['gc'] })
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] as number
for (const k of Object.keys(kinds)) for (let i = 0; i < (BULK ? 50 : 1000); i++) await kinds[k]!(i) // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? Object.keys(kinds) : Object.keys(kinds).reverse()
  for (const k of order) {
    const op = kinds[k]!
    const us = new Float64Array(N)
    await admin.config('RESETSTAT')
    const s0 = await serverCpuUs()
    const g0 = gcMs
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: C }, async () => {
        for (let i = next++; i < N; i = next++) {
          const a = performance.now()
          await op(i)
          us[i] = (performance.now() - a) * 1000
        }
      }),
    )
    const c = process.cpuUsage(c0)
    const wallUs = ((performance.now() - t0) * 1000) / N
    // GC entries are delivered on a later tick: let them in before reading
    await new Promise((resolve) => setImmediate(resolve))
    const m = per[k]!
    m.gc.push(((gcMs - g0) * 1000) / N)
    m.srv.push(((await serverCpuUs()) - s0) / N)
    m.wall.push(wallUs)
    m.lat.push(us)
    const s = await cmdstats()
    s.set('info', (s.get('info') ?? 1) - 1)
    s.delete('config|resetstat')
    s.delete('config')
    m.cpu.push((c.user + c.system) / N)
    cmds[k] = [...s]
      .filter(([, v]) => v > 0)
      .map(([n, v]) => `${n}=${(v / N).toFixed(2)}`)
      .join(' ')
  }
  await Promise.all([
    ours.queue.obliterate({ force: true }),
    raw.obliterate({ force: true }),
    rawCt.obliterate({ force: true }),
  ])
}
/** A percentile of each round's latencies, median over the rounds. */
const pct = (k: string, p: number) =>
  median(
    per[k]!.lat.map((a) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))]!),
  )
const meanLat = (k: string) => median(per[k]!.lat.map((a) => a.reduce((s, x) => s + x, 0) / a.length))
const f = (v: number) => v.toFixed(v < 10 ? 2 : 1)
const unit = BULK ? `call (${BULK} jobs)` : 'add'
/** Over every add of every round: the mean, and how much of it lies above p90 / p99 (µs a call). */
function tail(k: string): string {
  const all = Float64Array.from(per[k]!.lat.flatMap((a) => [...a])).sort()
  const at = (p: number) => all[Math.min(all.length - 1, Math.floor(all.length * p))] as number
  const above = (t: number) => all.reduce((s, x) => s + Math.max(0, x - t), 0) / all.length
  const mean = all.reduce((s, x) => s + x, 0) / all.length
  return `all rounds: mean ${f(mean)} p50 ${f(at(0.5))}, above p90 ${f(above(at(0.9)))} above p99 ${f(above(at(0.99)))}`
}
for (const k of Object.keys(kinds)) {
  console.log(
    `${k.padEnd(11)} client CPU us/${unit} median ${f(median(per[k]!.cpu))} (min ${f(Math.min(...per[k]!.cpu))}), GC us/${unit} ${f(median(per[k]!.gc))}, wall us/${unit} ${f(median(per[k]!.wall))}, redis CPU us/${unit} ${f(median(per[k]!.srv))}`,
  )
  console.log(
    `${''.padEnd(11)} latency us (median of rounds): mean ${f(meanLat(k))} p50 ${f(pct(k, 0.5))} p90 ${f(pct(k, 0.9))} p99 ${f(pct(k, 0.99))} p99.9 ${f(pct(k, 0.999))}; ${tail(k)} | per ${unit}: ${cmds[k]}`,
  )
}
if (Object.keys(kinds).length > 1) {
  const ks = Object.keys(kinds)
  const base = ks.includes('raw+uuid') ? 'raw+uuid' : (ks[1] as string)
  for (const k of ks.filter((x) => x !== base)) {
    const paired = per[k]!.cpu.map((v, i) => v / per[base]!.cpu[i]!)
    console.log(`${k} / ${base} client CPU per round, median of paired ratios: ${median(paired).toFixed(3)}`)
  }
}
await rawCt.close()
ctConn.disconnect()
await close()
