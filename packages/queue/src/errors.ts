import { CacheError } from '@cache/client'

/** Codes @cache/queue throws. */
export type QueueErrorCode = 'E_INVALID_PAYLOAD'

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
