/**
 * CPU per processed job and Redis commands per job: @cache/queue process() vs a raw BullMQ Worker with the
 * same options (bare: a raw Worker draining our queue, same keys and ids; raw+uuid: raw jobs added with `jobId: randomUUID()`, as ours are), each draining a
 * pre-filled queue, alternating rounds on one harness server.
 * Usage (from /work/main): node --import tsx packages/queue/perf/process-cost.mts [jobs] [rounds] [concurrency]
 */
import { randomUUID } from 'node:crypto'
import { type ConnectionOptions, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { data, setup } from './setup.mjs'

const N = Number(process.argv[2] ?? 10_000)
const ROUNDS = Number(process.argv[3] ?? 6)
const C = Number(process.argv[4] ?? 32)
const KINDS = (process.env.KINDS ?? 'ours,bare,raw,raw+uuid').split(',')
const { conn, admin, ours, raw, serverCpuUs, cmdstats, close: closeAll } = await setup()
async function fill(kind: string): Promise<void> {
  for (let i = 0; i < N; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({
      name: 'job' as const,
      data: data(i + k),
    }))
    if (kind === 'ours' || kind === 'bare') await ours.addBulk(batch)
    else if (kind === 'raw') await raw.addBulk(batch)
    else await raw.addBulk(batch.map((b) => ({ ...b, opts: { jobId: randomUUID() } })))
  }
}
async function drain(kind: string): Promise<{ client: number; srv: number; ms: number; cmds: string }> {
  await fill(kind)
  let done = 0
  let finish = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const count = async () => {
    if (++done === N) finish()
  }
  await admin.config('RESETSTAT')
  const s0 = await serverCpuUs()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  let close: () => Promise<void>
  if (kind === 'ours') {
    const w = ours.process({ job: count }, { concurrency: C })
    close = () => w.close()
  } else {
    const wc = new Redis(conn.bullmq().options as never)
    // bare: a raw BullMQ Worker on our queue (same keys, same job ids): the difference to ours is our code
    const [q, prefix] = kind === 'bare' ? ['ours', ours.queue.opts.prefix] : ['raw', 'bench-raw']
    const w = new Worker(q, count, { connection: wc as unknown as ConnectionOptions, prefix, concurrency: C })
    close = async () => {
      await w.close()
      wc.disconnect()
    }
  }
  await finished
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  const srv = ((await serverCpuUs()) - s0) / N
  const s = await cmdstats()
  await close()
  s.set('info', (s.get('info') ?? 1) - 1)
  s.delete('config|resetstat')
  const cmds = [...s]
    .filter(([, v]) => v > 0)
    .map(([n, v]) => `${n}=${(v / N).toFixed(3)}`)
    .join(' ')
  await Promise.all([ours.queue.obliterate({ force: true }), raw.obliterate({ force: true })])
  return { client: (c.user + c.system) / N, srv, ms, cmds }
}
const res: Record<string, Array<{ client: number; srv: number; ms: number }>> = {}
const cmds: Record<string, string> = {}
for (const k of KINDS) await drain(k) // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const k of r % 2 === 0 ? KINDS : [...KINDS].reverse()) {
    const x = await drain(k)
    res[k] = [...(res[k] ?? []), x]
    if (process.env.VERBOSE) console.log(r, k, x.client.toFixed(1), x.srv.toFixed(1))
    cmds[k] = x.cmds
  }
}
const med = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1] ?? Number.NaN
for (const k of KINDS) {
  const v = res[k] ?? []
  console.log(
    `${k.padEnd(9)} c=${C} client CPU us/job ${med(v.map((x) => x.client)).toFixed(1)}, redis CPU us/job ${med(v.map((x) => x.srv)).toFixed(1)}, jobs/s ${Math.round(N / (med(v.map((x) => x.ms)) / 1000))} | per job: ${cmds[k]}`,
  )
}
await closeAll()
