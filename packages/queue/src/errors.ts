import { CacheError } from '@cache/client'

/** Codes @cache/queue throws. */
export type QueueErrorCode = 'E_INVALID_PAYLOAD' | 'E_JOB_TIMEOUT' | 'E_JOB_STALLED' | 'E_NOT_REPLICATED'

declare module '@cache/client' {
  interface CacheErrorCodes extends Record<QueueErrorCode, true> {}
}

/** Job data failed its zod schema (E_INVALID_PAYLOAD); `field` names the first bad field. */
export class InvalidPayloadError extends CacheError {
  constructor(job: string, field: string, reason: string) {
    super('E_INVALID_PAYLOAD', `[@cache/queue] job "${job}" field "${field}" ${reason}`, {
      details: { job, field },
    })
  }
}

/** A job attempt ran past its timeout (E_JOB_TIMEOUT): its signal was aborted and the attempt failed. */
export class JobTimeoutError extends CacheError {
  /** The timeout that passed (ms). */
  readonly timeoutMs: number

  constructor(job: string, id: string | undefined, timeoutMs: number) {
    super('E_JOB_TIMEOUT', `[@cache/queue] job "${job}" (${id ?? '?'}) ran past its ${timeoutMs}ms timeout`, {
      details: { job, id, timeoutMs },
    })
    this.timeoutMs = timeoutMs
  }
}

/**
 * A job's worker stopped renewing its lock (crashed, SIGKILLed, event loop blocked) and BullMQ's stalled
 * check took the job back (E_JOB_STALLED): one record per stall in the job's history, and the reason the job
 * reaches the dead-letter queue once it stalled more than `maxStalledCount` times.
 */
export class JobStalledError extends CacheError {
  /** Times the job stalled so far. */
  readonly stalls: number

  constructor(job: string, id: string | undefined, stalls: number, limit?: number) {
    super(
      'E_JOB_STALLED',
      limit === undefined
        ? `[@cache/queue] job "${job}" (${id ?? '?'}) stalled: its worker lost the lock (stall ${stalls})`
        : `[@cache/queue] job "${job}" (${id ?? '?'}) stalled ${stalls} times, more than maxStalledCount ${limit}`,
      { details: { job, id, stalls } },
    )
    this.stalls = stalls
  }
}

/**
 * Fewer replicas than `durability.replicas` acknowledged an add within `durability.timeout`
 * (E_NOT_REPLICATED). The job is stored on the master, which may still replicate it, or lose it in a
 * failover: adding it again under the same `jobId` (in `details.ids`) is safe, an existing id is a no-op.
 */
export class NotReplicatedError extends CacheError {
  /** The ids of the jobs the master took. */
  readonly ids: string[]
  /** Replicas that acknowledged. */
  readonly acknowledged: number

  constructor(what: string, ids: string[], acknowledged: number, d: { replicas: number; timeoutMs: number }) {
    super(
      'E_NOT_REPLICATED',
      `[@cache/queue] ${what}: ${acknowledged} of ${d.replicas} replica(s) acknowledged within ${d.timeoutMs}ms; ` +
        'the master has the job(s), a failover may lose them (re-adding the same ids is safe)',
      { details: { ids, acknowledged, replicas: d.replicas, timeoutMs: d.timeoutMs } },
    )
    this.ids = ids
    this.acknowledged = acknowledged
  }
}
