/**
 * CPU per add and Redis commands per add: @cache/queue add vs raw BullMQ Queue.add (counter ids) vs raw
 * BullMQ with `jobId: randomUUID()`, alternating A/B/C rounds on one harness server.
 * Usage (from /work/main): node --import tsx packages/queue/perf/add-cost.mts [adds-per-round] [rounds]
 */
import { randomUUID } from 'node:crypto'
import { data, setup } from './setup.mjs'

const N = Number(process.argv[2] ?? 5000)
const ROUNDS = Number(process.argv[3] ?? 6)
const { ours, raw, admin, serverCpuUs, cmdstats, close } = await setup()
// (the same job options as ours; only adds run here, so its backoff type needs no strategy)
const PREFIX = `${randomUUID().slice(0, 8)}-`
let seq = 0
const kinds: Record<string, (i: number) => Promise<unknown>> = {
  ours: (i) => ours.add('job', data(i)),
  raw: (i) => raw.add('job', data(i)),
  'raw+uuid': (i) => raw.add('job', data(i), { jobId: randomUUID() }),
  'raw+short': (i) => raw.add('job', data(i), { jobId: `${PREFIX}${(seq++).toString(36)}` }),
}
const wall: Record<string, number[]> = {}
const srv: Record<string, number[]> = {}
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
await close()
