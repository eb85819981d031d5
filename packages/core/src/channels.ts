import diagnostics from 'node:diagnostics_channel'

/** Published on `cache:core:invalidate` after every invalidation of a cache. */
export interface InvalidateEvent {
  namespace: string
  kind: 'key' | 'tags' | 'pattern' | 'clear'
  /** The key, tags or pattern (absent for `clear`). */
  target?: string | readonly string[]
  /** Entries removed (unknown for `clear`). */
  removed?: number
}

/** diagnostics_channel `cache:core:invalidate`: invalidations by key, tag, pattern and clear, for metrics and L1 buses. */
export const invalidateChannel = diagnostics.channel('cache:core:invalidate')

/** Publishes an invalidation when someone listens. */
export function publishInvalidate(event: InvalidateEvent): void {
  if (invalidateChannel.hasSubscribers) invalidateChannel.publish(event)
}

/** Published on `cache:core:get` after every read of a RedisCache (`tier: 'redis'`) or MemoryCache (`tier: 'memory'`). */
export interface GetEvent {
  namespace: string
  tier: 'redis' | 'memory'
  outcome: 'hit' | 'miss'
}

/**
 * diagnostics_channel `cache:core:get`: one message per key read (get, mget, getWithTtl, getOrSet's read),
 * for hit ratios per namespace and tier. Nothing is built when nobody listens.
 */
export const getChannel = diagnostics.channel('cache:core:get')
