/**
 * Background jobs (@cache/queue): "send welcome email", the nightly digest (a schedule), and a flaky job
 * that fails `failTimes` times and then succeeds or lands in the dead-letter queue. Every run writes a
 * `job_runs` row and every success a `jobs_done` row, so lost and duplicated jobs can be counted in SQL.
 * The same definitions serve the API (producer) and the worker process (consumer).
 */
import type { Connection } from '@cache/client'
import { defineQueue, type QueueWorker, type TypedQueue } from '@cache/queue'
import { z } from 'zod'
import type { Db } from './db.js'

export const JOBS = {
  welcome: z.object({ email: z.string().email(), tenant: z.string() }),
  digest: z.object({ tenant: z.string().optional() }),
  flaky: z.object({ failTimes: z.number().int().min(0).max(10) }),
}

export type JobQueue = TypedQueue<typeof JOBS>

/** Attempts of every job: a flaky job with failTimes >= this lands in the DLQ. */
export const JOB_ATTEMPTS = 3

/** Replicas that must have a job before its add is acknowledged, and how long to wait (the queue's `durability`). */
export interface JobDurability {
  replicas: number
  timeout: number | string
}

/** A replica must have a job before its add is acknowledged: a failover then cannot lose it. */
export const REPLICATED = { replicas: 1, timeout: '1s' } as const

/** What `jobDurability` means for a connection: given, or REPLICATED where there are replicas to fail over to. */
export function durabilityFor(
  conn: Connection,
  durability?: JobDurability | false,
): JobDurability | undefined {
  if (durability === false) return undefined
  return durability ?? (conn.topology === 'standalone' ? undefined : REPLICATED)
}

/**
 * The jobs queue (namespace `jobs`, queue `crm`). On Sentinel and Cluster an add is acknowledged once a
 * replica has it (`durability`, see durabilityFor); too few replicas → NotReplicatedError, a 503.
 */
export function jobQueue(
  conn: Connection,
  log?: (line: string) => void,
  durability?: JobDurability | false,
): JobQueue {
  const d = durabilityFor(conn, durability)
  return defineQueue(conn, 'crm', {
    namespace: 'jobs',
    jobs: JOBS,
    ...(d && { durability: d }),
    defaults: {
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 100, jitter: 0.2 },
      timeout: '10s',
    },
    logger: { warn: (line) => log?.(line) },
  })
}

async function recordRun(db: Db, id: string, kind: string, attempt: number): Promise<void> {
  await db.query('insert into job_runs (job_id, kind, attempt) values ($1, $2, $3)', [id, kind, attempt])
}

async function recordDone(db: Db, id: string, kind: string): Promise<void> {
  await db.query('insert into jobs_done (job_id, kind) values ($1, $2) on conflict (job_id) do nothing', [
    id,
    kind,
  ])
}

/** Starts the job handlers on `queue`, writing to `db`. */
export function startWorkers(
  queue: JobQueue,
  db: Db,
  options: { concurrency?: number; id?: string } = {},
): QueueWorker {
  return queue.process(
    {
      welcome: async (job, { signal }) => {
        await recordRun(db, job.id, 'welcome', job.attempt)
        signal.throwIfAborted()
        await recordDone(db, job.id, 'welcome')
        return `welcome sent to ${job.data.email}`
      },
      digest: async (job) => {
        await recordRun(db, job.id, 'digest', job.attempt)
        const { rows } = await db.query<{ tenant: string; n: number }>(
          'select tenant, count(*)::int as n from contacts group by tenant',
        )
        await recordDone(db, job.id, 'digest')
        return rows
      },
      flaky: async (job) => {
        await recordRun(db, job.id, 'flaky', job.attempt)
        if (job.attempt <= job.data.failTimes)
          throw new Error(`flaky: failing attempt ${job.attempt} of ${job.data.failTimes}`)
        await recordDone(db, job.id, 'flaky')
        return 'ok'
      },
    },
    { concurrency: options.concurrency ?? 4, ...(options.id ? { id: options.id } : {}) },
  )
}
