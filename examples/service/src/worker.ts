/**
 * The job workers as their own process (`npm run worker -w @cache/example-service`, or
 * `node --conditions=@cache/source --import tsx examples/service/src/worker.ts`): the handlers of jobs.ts
 * on the Redis deployment of the REDIS_* environment (what @cache/client `connect()` reads) and the
 * database of DATABASE_URL (the service's `databaseUrl`: its PGlite over pglite-socket, or Postgres).
 * Prints "worker ready" once consuming; SIGTERM/SIGINT close it gracefully, SIGKILL leaves its jobs to
 * BullMQ's stalled-job check (another worker picks them up).
 */
import { configFromEnv, connect, InvalidOptionError } from '@cache/client'
import { PKG } from './config.js'
import { openPostgres } from './db.js'
import { REDIS_DEFAULTS } from './family.js'
import { jobQueue, startWorkers } from './jobs.js'

const url = process.env.DATABASE_URL
if (!url)
  throw new InvalidOptionError(PKG, 'DATABASE_URL', 'must be set (the service prints its databaseUrl)')
const conn = await connect({ ...REDIS_DEFAULTS, ...configFromEnv() })
const db = await openPostgres(url)
const queue = jobQueue(conn, (line) => console.log(line))
const worker = startWorkers(queue, db, { id: `worker-${process.pid}` })
console.log(`worker ready (pid ${process.pid}, Redis ${conn.topology}, namespace ${conn.keys.namespace})`)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  // closing waits on Redis and the database: when they are gone, exit anyway
  setTimeout(() => process.exit(1), 10_000).unref()
  await worker.close({ timeout: '5s' }).catch(() => {})
  await queue.close().catch(() => {})
  await db.close().catch(() => {})
  await conn.close().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
