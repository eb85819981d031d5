import type { RedisCache } from '@cache/core'

/**
 * Every Redis key of a TieredCache. Values live in the L2 RedisCache (`<ns>:v:{key}`, see @cache/core's
 * keys); this package adds the refresh lease `<ns>:tr:{key}` (same hash tag, so the same cluster slot as
 * the value, and outside the `<ns>:v:{` prefix that CLIENT TRACKING watches).
 */
export class TieredKeys {
  /** The cache's key prefix, e.g. `app:users:`. */
  readonly prefix: string
  /** Every value key starts with it: the BCAST tracking prefix. */
  readonly valuePrefix: string

  constructor(l2: RedisCache<unknown>) {
    // redisKey('_') is `<prefix>v:{_}`: derive the layout from RedisCache's public API.
    const probe = l2.redisKey('_')
    this.valuePrefix = probe.slice(0, -2)
    this.prefix = probe.slice(0, -'v:{_}'.length)
  }

  /** The lease taken by the one process that refreshes a stale value. */
  refreshLease(part: string): string {
    return `${this.prefix}tr:{${part}}`
  }
}
