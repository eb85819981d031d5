import { CacheError } from '@cache/client'

/** Stable error codes of @cache/session (besides the family's E_INVALID_ARGUMENT, E_INVALID_OPTION, E_UNAVAILABLE). */
export type SessionErrorCode = 'E_SESSION_CONFLICT'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<SessionErrorCode, true> {}
}

/** `update()` lost the compare-and-set race more than `maxRetries` times in a row. */
export class SessionConflictError extends CacheError {
  /** How many attempts were made. */
  readonly attempts: number
  constructor(attempts: number) {
    super('E_SESSION_CONFLICT', `[@cache/session] update gave up after ${attempts} conflicting attempts`, {
      details: { attempts },
    })
    this.attempts = attempts
  }
}
