import { CacheError } from '@cache/client'
import { PKG } from './defaults.js'

/** Codes @cache/tiered adds to the family (it also throws E_UNSUPPORTED, E_INVALID_OPTION, E_CLOSED and those of @cache/core). */
export type TieredErrorCode = 'E_FACTORY_TIMEOUT'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<TieredErrorCode, true> {}
}

/** getOrSet/getManyOrSet: the factory (loader) ran past the hard timeout and was aborted (E_FACTORY_TIMEOUT). */
export class FactoryTimeoutError extends CacheError {
  readonly key: string
  readonly timeoutMs: number
  constructor(key: string, timeoutMs: number, op = 'getOrSet') {
    super('E_FACTORY_TIMEOUT', `[${PKG}] ${op}("${key}"): the factory did not finish within ${timeoutMs}ms`, {
      details: { key, timeoutMs },
    })
    this.key = key
    this.timeoutMs = timeoutMs
  }
}

/** The cache was closed (E_CLOSED). */
export function closedError(op: string): CacheError {
  return new CacheError('E_CLOSED', `[${PKG}] ${op}: the cache is closed`)
}
