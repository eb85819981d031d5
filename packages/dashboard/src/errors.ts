import { CacheError } from '@cache/client'

/** Codes @cache/dashboard adds to the family (bad options are the family's E_INVALID_OPTION). */
export type DashboardErrorCode = 'E_UNAUTHORIZED' | 'E_FORBIDDEN' | 'E_READ_ONLY'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<DashboardErrorCode, true> {}
}

/** A request without the token (or with a wrong one) where one is set: answered 401. */
export class UnauthorizedError extends CacheError {
  constructor() {
    super('E_UNAUTHORIZED', '[@cache/dashboard] a valid token is required')
  }
}

/** A mutating request without a valid CSRF token: answered 403. */
export class ForbiddenError extends CacheError {
  constructor(reason: string) {
    super('E_FORBIDDEN', `[@cache/dashboard] ${reason}`)
  }
}

/** A mutating request to a `readOnly` dashboard: answered 403. */
export class ReadOnlyError extends CacheError {
  constructor() {
    super('E_READ_ONLY', '[@cache/dashboard] this dashboard is read-only')
  }
}
