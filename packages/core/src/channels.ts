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
