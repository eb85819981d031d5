import { CacheError } from '@cache/client'

/** Codes @cache/queue throws. */
export type QueueErrorCode = 'E_INVALID_PAYLOAD' | 'E_JOB_TIMEOUT'

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
