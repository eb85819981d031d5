import type { Job, Queue } from 'bullmq'

/** One failed attempt of a job, as the dead-letter queue keeps it. */
export interface AttemptRecord {
  /** 1 for the first attempt. */
  attempt: number
  /** When the attempt started (ms since the epoch). */
  startedAt: number
  /** When it failed. */
  failedAt: number
  /** The error's message. */
  error: string
  /** The error's class name. */
  errorName: string
  /** The error's `code`, when it has one (E_JOB_TIMEOUT, …). */
  code?: string
  /** The error's stack. */
  stack?: string
}

/** Attempt records live in the job's BullMQ log (removed with the job), one line each, after this mark. */
const MARK = '@cache/queue:attempt '

/** The record of an attempt that failed with `err`. */
export function attemptRecord(attempt: number, startedAt: number, err: unknown): AttemptRecord {
  const e = err instanceof Error ? err : new Error(String(err))
  const rec: AttemptRecord = {
    attempt,
    startedAt,
    failedAt: Date.now(),
    error: e.message,
    errorName: e.name,
  }
  const code = (e as { code?: unknown }).code
  if (typeof code === 'string') rec.code = code
  if (e.stack) rec.stack = e.stack
  return rec
}

/** Appends an attempt record to the job's log. */
export async function recordAttempt(job: Job, rec: AttemptRecord): Promise<void> {
  await job.log(MARK + JSON.stringify(rec))
}

/** Every attempt record of a job, oldest first (other log lines are skipped). */
export async function readAttempts(queue: Queue, id: string): Promise<AttemptRecord[]> {
  const { logs } = await queue.getJobLogs(id, 0, -1, true)
  const out: AttemptRecord[] = []
  for (const line of logs) {
    if (!line.startsWith(MARK)) continue
    try {
      out.push(JSON.parse(line.slice(MARK.length)) as AttemptRecord)
    } catch {}
  }
  return out
}
