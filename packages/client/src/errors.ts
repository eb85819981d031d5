/**
 * The registry of every error code of the @cache family: one property per code (the value type is unused).
 *
 * Design: the dependency direction is one way (`client` ← every other package), so the client cannot list
 * the codes of the packages built on it. Instead each package adds its own codes to this interface by module
 * augmentation, next to its error classes:
 *
 * ```ts fragment
 * export type LockErrorCode = 'E_LOCK_TIMEOUT' | 'E_LOCK_LOST'
 * declare module '@cache/client' {
 *   interface CacheErrorCodes extends Record<LockErrorCode, true> {}
 * }
 * ```
 *
 * `CacheErrorCode` is then exactly the codes of the packages a program uses, so a typo such as
 * `isCacheError(e, 'E_LOCK_TIMOUT')` fails to compile, and so does `new CacheError('E_TYPO', …)`.
 */
export interface CacheErrorCodes extends Record<ClientErrorCode, true> {}

/** Codes @cache/client itself throws. */
export type ClientErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_INVALID_ARGUMENT'
  | 'E_UNAVAILABLE'
  | 'E_TIMEOUT'
  | 'E_CLOSED'
  | 'E_COMMAND'
  | 'E_CROSSSLOT'
  | 'E_UNSUPPORTED'
  | 'E_AUTH'
  | 'E_TLS'

/** Stable error codes of the whole family (every package registers its own in `CacheErrorCodes`). */
export type CacheErrorCode = keyof CacheErrorCodes & string

const BRAND = Symbol.for('@cache/error')

/**
 * The base of every error thrown by an `@cache/*` package. Messages start with the package name, never
 * contain secrets or cached values, and `code` is stable across versions.
 */
export class CacheError extends Error {
  /** Stable machine-readable code, e.g. `E_UNAVAILABLE`. */
  readonly code: CacheErrorCode
  /** Extra typed facts about the failure (field name, key, retry delay…). */
  readonly details: Readonly<Record<string, unknown>>

  constructor(
    code: CacheErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.details = Object.freeze({ ...options.details })
    Object.defineProperty(this, BRAND, { value: true })
  }
}

/**
 * True when `err` is a CacheError (from any copy of this package: ESM, CJS or another version), optionally
 * with the given code (one of the family's registered codes: a typo does not compile).
 */
export function isCacheError(err: unknown, code?: CacheErrorCode): err is CacheError {
  if (typeof err !== 'object' || err === null || !(BRAND in err)) return false
  return code === undefined || (err as unknown as CacheError).code === code
}

/**
 * True for failures that mean "the server could not be reached or did not answer" (E_UNAVAILABLE,
 * E_TIMEOUT): the ones that feed the breaker, and that a cache treats as "Redis is down" rather than as a
 * bug. Anything else (a CacheError with another code, or a plain Error) is false.
 */
export function isUnavailable(err: unknown): err is CacheError {
  return isCacheError(err, 'E_UNAVAILABLE') || isCacheError(err, 'E_TIMEOUT')
}

/** An option failed validation; `field` names it (dotted path) and the message says why. */
export class InvalidOptionError extends CacheError {
  readonly field: string
  constructor(pkg: string, field: string, reason: string) {
    super('E_INVALID_OPTION', `[${pkg}] option "${field}" ${reason}`, { details: { field } })
    this.field = field
  }
}

/** A call argument is invalid (E_INVALID_ARGUMENT); `field` names it. */
export class InvalidArgumentError extends CacheError {
  readonly field: string
  constructor(pkg: string, field: string, reason: string) {
    super('E_INVALID_ARGUMENT', `[${pkg}] argument "${field}" ${reason}`, { details: { field } })
    this.field = field
  }
}

/** The server could not be reached or answer (E_UNAVAILABLE). */
export class UnavailableError extends CacheError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('E_UNAVAILABLE', message, options)
  }
}

/** No answer within a deadline (E_TIMEOUT); `timeoutMs` is the deadline. */
export class TimeoutError extends CacheError {
  readonly timeoutMs: number
  constructor(message: string, timeoutMs: number, options: { cause?: unknown } = {}) {
    super('E_TIMEOUT', message, { ...options, details: { timeoutMs } })
    this.timeoutMs = timeoutMs
  }
}

/** The connection (or the object using it) is closed (E_CLOSED). */
export class ClosedError extends CacheError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_CLOSED', message, options)
  }
}

/** The server rejected a command (E_COMMAND); `cause` is the server's reply. */
export class CommandError extends CacheError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_COMMAND', message, options)
  }
}

/** The keys of one script call or transaction map to different cluster slots (E_CROSSSLOT). */
export class CrossSlotError extends CacheError {
  constructor(message: string, options: { details?: Record<string, unknown> } = {}) {
    super('E_CROSSSLOT', message, options)
  }
}

/** The operation is not supported here (topology, server version, option combination) (E_UNSUPPORTED). */
export class UnsupportedError extends CacheError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('E_UNSUPPORTED', message, options)
  }
}

/** The server rejected the credentials (E_AUTH). */
export class AuthError extends CacheError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_AUTH', message, options)
  }
}

/** The TLS handshake failed (E_TLS). */
export class TlsError extends CacheError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_TLS', message, options)
  }
}
