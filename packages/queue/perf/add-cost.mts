/**
 * CPU per add and Redis commands per add: @cache/queue add vs raw BullMQ Queue.add (counter ids) vs raw
 * BullMQ with `jobId: randomUUID()`, alternating A/B/C rounds on one harness server.
 * Usage (from /work/main): node --import tsx packages/queue/perf/add-cost.mts [adds-per-round] [rounds]
 */
import { randomUUID } from 'node:crypto'
import { connect } from '@cache/client'
import { defineQueue } from '@cache/queue'
import { startStandalone } from '@cache/tools'
import { type ConnectionOptions, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { z } from 'zod'

const N = Number(process.argv[2] ?? 5000)
const ROUNDS = Number(process.argv[3] ?? 6)
const server = await startStandalone()
const conn = await connect({ url: server.url, namespace: 'bench-queue' })
const rawConn = new Redis(conn.bullmq().options as never)
const admin = new Redis(conn.bullmq().options as never)
const Data = z.object({ id: z.number(), user: z.string(), note: z.string() })
const data = (id: number) => ({ id, user: `u${id % 1000}`, note: 'x'.repeat(50) })
const ours = defineQueue(conn, 'ours', { namespace: 'q', jobs: { job: Data }, checks: false })
const raw = new Queue('raw', {
  connection: rawConn as unknown as ConnectionOptions,
  prefix: 'bench-raw',
  defaultJobOptions: { ...ours.queue.defaultJobOptions },
})
// (the same job options as ours; only adds run here, so its backoff type needs no strategy)
const PREFIX = `${randomUUID().slice(0, 8)}-`
let seq = 0
const kinds: Record<string, (i: number) => Promise<unknown>> = {
  ours: (i) => ours.add('job', data(i)),
  raw: (i) => raw.add('job', data(i)),
  'raw+uuid': (i) => raw.add('job', data(i), { jobId: randomUUID() }),
  'raw+short': (i) => raw.add('job', data(i), { jobId: `${PREFIX}${(seq++).toString(36)}` }),
}
async function serverCpuUs(): Promise<number> {
  const text = (await admin.info('cpu')) as string
  const u = /used_cpu_user:([\d.]+)/.exec(text)![1]!
  const sy = /used_cpu_sys:([\d.]+)/.exec(text)![1]!
  return (Number(u) + Number(sy)) * 1e6
}
const wall: Record<string, number[]> = {}
const srv: Record<string, number[]> = {}
async function cmdstats(): Promise<Map<string, number>> {
  const text = (await admin.info('commandstats')) as string
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    const r = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (r) m.set(r[1]!, Number(r[2]))
  }
  return m
}
const cpu: Record<string, number[]> = {}
const cmds: Record<string, string> = {}
for (const k of Object.keys(kinds)) for (let i = 0; i < 1000; i++) await kinds[k]!(i) // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? Object.keys(kinds) : Object.keys(kinds).reverse()
  for (const k of order) {
    await admin.config('RESETSTAT')
    const s0 = await serverCpuUs()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    for (let i = 0; i < N; i++) await kinds[k]!(i)
    const c = process.cpuUsage(c0)
    const wallUs = ((performance.now() - t0) * 1000) / N
    const srvUs = ((await serverCpuUs()) - s0) / N
    wall[k] = [...(wall[k] ?? []), wallUs]
    srv[k] = [...(srv[k] ?? []), srvUs]
    const s = await cmdstats()
    s.set('info', (s.get('info') ?? 1) - 1)
    s.delete('config|resetstat')
    s.delete('config')
    cpu[k] = [...(cpu[k] ?? []), (c.user + c.system) / N]
    cmds[k] = [...s]
      .filter(([, v]) => v > 0)
      .map(([n, v]) => `${n}=${(v / N).toFixed(2)}`)
      .join(' ')
  }
  await Promise.all([ours.queue.obliterate({ force: true }), raw.obliterate({ force: true })])
}
for (const k of Object.keys(kinds)) {
  const v = cpu[k]!.sort((a, b) => a - b)
  console.log(
    `${k.padEnd(9)} client CPU us/add median ${v[v.length >> 1]!.toFixed(1)} (min ${v[0]!.toFixed(1)}), wall us/add ${wall[k]!.sort((a, b) => a - b)[wall[k]!.length >> 1]!.toFixed(1)}, redis CPU us/add ${srv[k]!.sort((a, b) => a - b)[srv[k]!.length >> 1]!.toFixed(1)} | per add: ${cmds[k]}`,
  )
}
await ours.close()
await raw.close()
rawConn.disconnect()
admin.disconnect()
await conn.close()
await server.stop()
