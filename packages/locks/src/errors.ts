import { CacheError } from '@cache/client'

/** Stable error codes of @cache/locks. */
export type LockErrorCode =
  | 'E_LOCK_TIMEOUT'
  | 'E_LOCK_LOST'
  | 'E_LOCK_EXTEND_FAILED'
  | 'E_LOCK_NOT_REPLICATED'
  | 'E_LOCK_ABORTED'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<LockErrorCode, true> {}
}

/** The lock was not acquired within `waitTimeout` (for Redlock: no quorum in time). */
export class LockTimeoutError extends CacheError {
  /** The resource that was asked for. */
  readonly resource: string
  constructor(resource: string, waitedMs: number, details: Record<string, unknown> = {}, cause?: unknown) {
    super('E_LOCK_TIMEOUT', `[@cache/locks] "${resource}" not acquired within ${Math.round(waitedMs)}ms`, {
      cause,
      details: { resource, waitedMs: Math.round(waitedMs), ...details },
    })
    this.resource = resource
  }
}

/** The lease was lost while held (expired, taken over, or deleted): the holder must stop its work. */
export class LockLostError extends CacheError {
  /** The resource whose lease was lost. */
  readonly resource: string
  /** The fencing token of the lost lease. */
  readonly token: number
  constructor(resource: string, token: number, reason: string, cause?: unknown) {
    super('E_LOCK_LOST', `[@cache/locks] lease on "${resource}" (token ${token}) lost: ${reason}`, {
      cause,
      details: { resource, token, reason },
    })
    this.resource = resource
    this.token = token
  }
}

/** An extension could not be confirmed (server unreachable or too slow); the lease may still be held. */
export class LockExtendError extends CacheError {
  /** The resource whose lease could not be extended. */
  readonly resource: string
  constructor(resource: string, token: number, cause: unknown) {
    super('E_LOCK_EXTEND_FAILED', `[@cache/locks] extending "${resource}" (token ${token}) failed`, {
      cause,
      details: { resource, token },
    })
    this.resource = resource
  }
}

/** `waitReplicas`: fewer replicas than asked acknowledged the acquisition in time; the lock was released. */
export class LockNotReplicatedError extends CacheError {
  /** The resource that was acquired and released again. */
  readonly resource: string
  constructor(resource: string, acked: number, wanted: number) {
    super(
      'E_LOCK_NOT_REPLICATED',
      `[@cache/locks] "${resource}": ${acked} of ${wanted} replicas acknowledged the lock in time; released`,
      { details: { resource, acked, wanted } },
    )
    this.resource = resource
  }
}

/** The caller's `signal` aborted the wait. */
export class LockAbortedError extends CacheError {
  /** The resource that was waited for. */
  readonly resource: string
  constructor(resource: string, cause: unknown) {
    super('E_LOCK_ABORTED', `[@cache/locks] waiting for "${resource}" was aborted`, {
      cause,
      details: { resource },
    })
    this.resource = resource
  }
}
