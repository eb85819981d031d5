import { CacheError } from '@cache/client'
import { PKG } from './defaults.js'

/** Codes of @cache/tiered errors (plus those of @cache/client and @cache/core). */
export type TieredErrorCode = 'E_FACTORY_TIMEOUT' | 'E_UNSUPPORTED' | 'E_INVALID_OPTION' | 'E_CLOSED'

/** getOrSet: the factory ran past the hard timeout and was aborted (E_FACTORY_TIMEOUT). */
export class FactoryTimeoutError extends CacheError {
  readonly key: string
  readonly timeoutMs: number
  constructor(key: string, timeoutMs: number) {
    super(
      'E_FACTORY_TIMEOUT',
      `[${PKG}] getOrSet("${key}"): the factory did not finish within ${timeoutMs}ms`,
      {
        details: { key, timeoutMs },
      },
    )
    this.key = key
    this.timeoutMs = timeoutMs
  }
}

/** The cache was closed (E_CLOSED). */
export function closedError(op: string): CacheError {
  return new CacheError('E_CLOSED', `[${PKG}] ${op}: the cache is closed`)
}
