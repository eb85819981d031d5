import { CacheError } from '@cache/client'
import { PKG } from './defaults.js'

/** Codes @cache/core adds to the family (it also throws E_INVALID_OPTION, E_INVALID_ARGUMENT, E_CLOSED and the connection's codes). */
export type CoreErrorCode =
  | 'E_DECODE'
  | 'E_ENCODE'
  | 'E_VALUE_TOO_LARGE'
  | 'E_FACTORY'
  | 'E_VERSION_NOT_FOUND'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<CoreErrorCode, true> {}
}

/** Stored bytes are corrupt or were not written by this codec (E_DECODE); no value is returned. */
export class DecodeError extends CacheError {
  constructor(reason: string, options: { cause?: unknown; key?: string } = {}) {
    const details: Record<string, unknown> = {}
    if (options.key !== undefined) details.key = options.key
    super('E_DECODE', `[${PKG}] cannot decode value${options.key ? ` of "${options.key}"` : ''}: ${reason}`, {
      cause: options.cause,
      details,
    })
  }
}

/** A value cannot be encoded (function, symbol, cycle, undefined…) (E_ENCODE); nothing was stored. */
export class EncodeError extends CacheError {
  constructor(reason: string, options: { cause?: unknown; key?: string } = {}) {
    const details: Record<string, unknown> = {}
    if (options.key !== undefined) details.key = options.key
    super('E_ENCODE', `[${PKG}] cannot encode value${options.key ? ` of "${options.key}"` : ''}: ${reason}`, {
      cause: options.cause,
      details,
    })
  }
}

/** An encoded value is larger than `maxValueBytes` (E_VALUE_TOO_LARGE); nothing was stored. */
export class ValueTooLargeError extends CacheError {
  readonly key: string
  readonly bytes: number
  constructor(key: string, bytes: number, max: number) {
    super(
      'E_VALUE_TOO_LARGE',
      `[${PKG}] value of "${key}" is ${bytes} bytes, more than maxValueBytes ${max}`,
      {
        details: { key, bytes, max },
      },
    )
    this.key = key
    this.bytes = bytes
  }
}

/** getOrSet: the factory failed in another process holding the lease (E_FACTORY). */
export class FactoryError extends CacheError {
  readonly key: string
  constructor(key: string, reason: string) {
    super('E_FACTORY', `[${PKG}] getOrSet("${key}"): the factory failed in another process (${reason})`, {
      details: { key },
    })
    this.key = key
  }
}

/** rollback(): the key has no such version in its history (E_VERSION_NOT_FOUND). */
export class VersionNotFoundError extends CacheError {
  readonly key: string
  readonly version: number
  constructor(key: string, version: number) {
    super('E_VERSION_NOT_FOUND', `[${PKG}] "${key}" has no version ${version}`, { details: { key, version } })
    this.key = key
    this.version = version
  }
}

/** The cache was closed (E_CLOSED). */
export function closedError(op: string): CacheError {
  return new CacheError('E_CLOSED', `[${PKG}] ${op}: the cache is closed`)
}
