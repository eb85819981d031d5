/**
 * CPU per call of @cache/queue's processor (schema check, job view, context, meters) against a bare
 * `async () => {}`, on BullMQ `Job` objects, no Redis round trip: `C` calls in flight at a time, alternating
 * rounds, medians. Usage (from /work/main): node --import tsx packages/queue/perf/processor-cost.mts [calls] [rounds] [C]
 */
import { connect } from '@cache/client'
import { defineQueue } from '@cache/queue'
import { startStandalone } from '@cache/tools'
import { Job } from 'bullmq'
import { z } from 'zod'

const N = Number(process.argv[2] ?? 100_000)
const ROUNDS = Number(process.argv[3] ?? 7)
const C = Number(process.argv[4] ?? 32)
const server = await startStandalone()
const conn = await connect({ url: server.url, namespace: 'bench-queue' })
const Data = z.object({ id: z.number(), user: z.string(), note: z.string() })
const ours = defineQueue(conn, 'ours', { namespace: 'q', jobs: { job: Data }, checks: false })
const w = ours.process({ job: async () => {} }, { concurrency: 1 })
await w.worker.pause(true)
type Fn = (job: Job, token: string) => Promise<unknown>
const fns: Record<string, Fn> = {
  ours: (w.worker as unknown as { processFn: Fn }).processFn,
  bare: async () => {},
}
const jobs = Array.from({ length: 1000 }, (_, i) =>
  Job.fromJSON(ours.queue, {
    id: `${i}`,
    name: 'job',
    data: JSON.stringify({ id: i, user: `u${i}`, note: 'x'.repeat(50) }),
    opts: ours.queue.defaultJobOptions,
    timestamp: Date.now(),
    attemptsMade: 0,
  } as never),
)
async function round(fn: Fn): Promise<number> {
  const c0 = process.cpuUsage()
  for (let i = 0; i < N; i += C) {
    const batch: Promise<unknown>[] = []
    for (let k = 0; k < C; k++) batch.push(fn(jobs[(i + k) % 1000] as Job, 't'))
    await Promise.all(batch)
  }
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / N
}
const res: Record<string, number[]> = {}
for (const k of Object.keys(fns)) await round(fns[k] as Fn)
for (let r = 0; r < ROUNDS; r++) {
  for (const k of r % 2 === 0 ? Object.keys(fns) : Object.keys(fns).reverse()) {
    res[k] = [...(res[k] ?? []), await round(fns[k] as Fn)]
  }
}
for (const [k, v] of Object.entries(res)) {
  v.sort((a, b) => a - b)
  console.log(
    `${k.padEnd(5)} C=${C} CPU us/call median ${(v[v.length >> 1] as number).toFixed(3)} (min ${(v[0] as number).toFixed(3)})`,
  )
}
await w.close()
await ours.close()
await conn.close()
await server.stop()
