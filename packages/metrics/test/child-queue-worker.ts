// A child process of queue.int.test.ts: a real @cache/queue worker, instrumented, that prints the runMs and
// waitMs of every job it completes (as the queue published them) and flushes its metrics on "stop".
import diagnostics from 'node:diagnostics_channel'
import { createInterface } from 'node:readline'
import { connect } from '@cache/client'
import { defineQueue } from '@cache/queue'
import { z } from 'zod'
import { instrument, Metrics } from '../src/index.js'

const [target, namespace, queueName, id] = process.argv.slice(2) as [string, string, string, string]
const conn = target.startsWith('[')
  ? await connect({ cluster: { nodes: JSON.parse(target) }, namespace })
  : await connect({ url: target, namespace })
const metrics = new Metrics(conn, { id, flushInterval: 50 })
const stop = instrument(metrics, { packages: ['queue'] })
diagnostics.subscribe('cache:queue:completed', (m) => {
  const { queue, runMs, waitMs } = m as { queue: string; runMs: number; waitMs?: number }
  if (queue === queueName) process.stdout.write(`${JSON.stringify({ runMs, waitMs })}\n`)
})
const queue = defineQueue(conn, queueName, {
  namespace: 'jobs',
  jobs: { sleep: z.object({ ms: z.number() }) },
  checks: false,
})
const worker = queue.process(
  { sleep: (job) => new Promise<void>((resolve) => setTimeout(resolve, job.data.ms)) },
  { concurrency: 2 },
)
process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) if (line === 'stop') break
// The for-await loop leaves stdin open, which would keep this process alive.
process.stdin.destroy()
await worker.close({ timeout: '10s' })
stop()
await metrics.close()
await queue.close()
await conn.close()
