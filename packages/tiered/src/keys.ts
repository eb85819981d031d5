import type { CacheKeys } from '@cache/core'

/**
 * Every Redis key of a TieredCache. Values live in the L2 RedisCache (`<ns>:v:{key}`, built by @cache/core's
 * CacheKeys); this package adds the refresh lease `<ns>:tr:{key}` and the miss marker `<ns>:tm:{key}` (same hash tag, so the same cluster slot as
 * the value, and outside the `<ns>:v:{` prefix that CLIENT TRACKING watches).
 */
export class TieredKeys {
  /** The cache's key prefix, e.g. `app:users:`. */
  readonly prefix: string
  /** Every value key starts with it: the BCAST tracking prefix. */
  readonly valuePrefix: string

  constructor(l2: CacheKeys) {
    this.valuePrefix = l2.valuePrefix
    this.prefix = l2.prefix
  }

  /** The lease taken by the one process that refreshes a stale value. */
  refreshLease(part: string): string {
    return `${this.prefix}tr:{${part}}`
  }

  /** Marks a key the getManyOrSet loader did not return, for `cacheMisses` (same slot as the value). */
  miss(part: string): string {
    return `${this.prefix}tm:{${part}}`
  }
}
