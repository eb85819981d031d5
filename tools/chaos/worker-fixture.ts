/**
 * Stand-in for examples/service/src/worker.ts while it does not exist (the contract's worker process):
 * the service's job handlers (examples/service/src/jobs.ts) on the deployment named by the REDIS_* env
 * and the database of DATABASE_URL. WorkerProcess prefers the service's own worker when present.
 */
import { configFromEnv, connect } from '@cache/client'
import { openPostgres } from '../../examples/service/src/db.js'
import { REDIS_DEFAULTS } from '../../examples/service/src/family.js'
import { jobQueue, startWorkers } from '../../examples/service/src/jobs.js'

const url = process.env.DATABASE_URL
if (!url) throw new Error('[@cache/tools] chaos worker: DATABASE_URL must be set')
const conn = await connect({ ...REDIS_DEFAULTS, ...configFromEnv() })
const db = await openPostgres(url)
const queue = jobQueue(conn, (line) => console.log(line))
const worker = startWorkers(queue, db, { id: `chaos-worker-${process.pid}` })
console.log(`worker ready (pid ${process.pid})`)
const stop = async () => {
  await worker.close({ timeout: '5s' })
  await queue.close()
  await db.close()
  await conn.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
