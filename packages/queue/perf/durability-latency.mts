/**
 * Wall latency of one `add` without and with `durability: { replicas: 1 }` (the WAIT round trip), one add
 * at a time, alternating rounds on a harness Sentinel (master + 1 replica) or Cluster topology.
 * Usage (from /work/main): node --conditions=@cache/source --import tsx \
 *   packages/queue/perf/durability-latency.mts [sentinel|cluster] [adds-per-round] [rounds]
 */
import { connect } from '@cache/client'
import { defineQueue } from '@cache/queue'
import { startCluster, startSentinel } from '@cache/tools'
import { z } from 'zod'

const KIND = process.argv[2] ?? 'sentinel'
const N = Number(process.argv[3] ?? 500)
const ROUNDS = Number(process.argv[4] ?? 6)
const topo = KIND === 'cluster' ? await startCluster() : await startSentinel()
const info = topo.info() as {
  name: string
  sentinels: Array<{ host: string; port: number }>
  nodes: Array<{ host: string; port: number }>
}
const conn = await connect(
  KIND === 'cluster'
    ? { cluster: { nodes: info.nodes }, namespace: 'bench-dur' }
    : { sentinel: { name: info.name, sentinels: info.sentinels }, namespace: 'bench-dur' },
)
const jobs = { job: z.object({ id: z.number(), note: z.string() }) }
const plain = defineQueue(conn, 'plain', { jobs, checks: false })
const durable = defineQueue(conn, 'durable', {
  jobs,
  checks: false,
  durability: { replicas: 1, timeout: '1s' },
})
const samples: Record<'plain' | 'durable', number[]> = { plain: [], durable: [] }

async function round(which: 'plain' | 'durable', record: boolean): Promise<void> {
  const q = which === 'plain' ? plain : durable
  for (let i = 0; i < N; i++) {
    const t = performance.now()
    await q.add('job', { id: i, note: 'x'.repeat(50) })
    if (record) samples[which].push(performance.now() - t)
  }
  await q.queue.drain()
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
await round('plain', false)
await round('durable', false)
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? (['durable', 'plain'] as const) : (['plain', 'durable'] as const)
  for (const w of order) await round(w, true)
}
for (const w of ['plain', 'durable'] as const) {
  const xs = samples[w]
  console.log(
    `${KIND} ${w}: ${xs.length} adds, p50 ${pct(xs, 50).toFixed(3)} ms, p90 ${pct(xs, 90).toFixed(3)} ms, p99 ${pct(xs, 99).toFixed(3)} ms`,
  )
}
await plain.close()
await durable.close()
await conn.close()
await topo.stop()
