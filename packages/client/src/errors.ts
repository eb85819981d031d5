/** Stable error codes. Callers branch on `code`, never on message text. */
export type CacheErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_UNAVAILABLE'
  | 'E_TIMEOUT'
  | 'E_CLOSED'
  | 'E_COMMAND'
  | 'E_CROSSSLOT'
  | 'E_UNSUPPORTED'
  | 'E_AUTH'
  | 'E_TLS'
  | 'E_INVALID_ARGUMENT'
  | (string & {})

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
 * with the given code.
 */
export function isCacheError(err: unknown, code?: CacheErrorCode): err is CacheError {
  if (typeof err !== 'object' || err === null || !(BRAND in err)) return false
  return code === undefined || (err as unknown as CacheError).code === code
}

/** An option failed validation; `field` names it (dotted path) and the message says why. */
export class InvalidOptionError extends CacheError {
  readonly field: string
  constructor(pkg: string, field: string, reason: string) {
    super('E_INVALID_OPTION', `[${pkg}] option "${field}" ${reason}`, { details: { field } })
    this.field = field
  }
}
