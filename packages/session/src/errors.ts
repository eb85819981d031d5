import { CacheError } from '@cache/client'

/** Stable error codes of @cache/session (besides the family's E_INVALID_ARGUMENT, E_INVALID_OPTION, E_UNAVAILABLE). */
export type SessionErrorCode =
  | 'E_SESSION_CONFLICT'
  | 'E_TOKEN_REUSED'
  | 'E_TOKEN_INVALID'
  | 'E_OTP_LOCKED'
  | 'E_OTP_THROTTLED'

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

/** A refresh token that was already rotated was presented again: its whole family is revoked. */
export class TokenReusedError extends CacheError {
  /** The revoked family. */
  readonly familyId: string
  constructor(familyId: string) {
    super('E_TOKEN_REUSED', '[@cache/session] refresh token reused: its family is revoked', {
      details: { familyId },
    })
    this.familyId = familyId
  }
}

/** The refresh token is malformed, unknown, expired or its family was revoked. */
export class TokenInvalidError extends CacheError {
  constructor(reason: string) {
    super('E_TOKEN_INVALID', `[@cache/session] refresh token ${reason}`, { details: { reason } })
  }
}

/** Too many wrong codes: the subject is locked for `retryAfterMs`. */
export class CodeLockedError extends CacheError {
  readonly retryAfterMs: number
  constructor(retryAfterMs: number) {
    super('E_OTP_LOCKED', `[@cache/session] too many wrong codes; locked for ${retryAfterMs}ms`, {
      details: { retryAfterMs },
    })
    this.retryAfterMs = retryAfterMs
  }
}

/** A new code was asked for sooner than `resendInterval` after the last one. */
export class CodeThrottledError extends CacheError {
  readonly retryAfterMs: number
  constructor(retryAfterMs: number) {
    super('E_OTP_THROTTLED', `[@cache/session] a code was sent recently; retry in ${retryAfterMs}ms`, {
      details: { retryAfterMs },
    })
    this.retryAfterMs = retryAfterMs
  }
}
