import type { Duration } from '@cache/client'
import type { FactoryContext } from '@cache/core'

/** What a tiered getOrSet factory receives. */
export interface TieredFactoryContext extends FactoryContext {
  /** Aborted when the hard timeout fires (or the cache closes). */
  signal: AbortSignal
  /** The stale value being refreshed, if any. */
  stale: unknown
}

/** A read-through factory of the tiered cache. */
export type TieredFactory<T> = (ctx: TieredFactoryContext) => T | Promise<T>

/** Hit/miss counters of one tier. */
export interface TierCounters {
  hits: number
  misses: number
  /** hits / (hits + misses), 0 when nothing was read. */
  hitRatio: number
}

/** Per-tier analytics of a TieredCache (`tierStats()`). */
export interface TierStats {
  l1: TierCounters & { entries: number; bytes: number; evictions: number }
  l2: TierCounters & { errors: number }
  l3: (TierCounters & { errors: number }) | undefined
  /** Factory calls made by this process. */
  factoryCalls: number
  /** getOrSet calls answered without calling the factory here (hits, shared flights, other processes' work). */
  factoryCallsSaved: number
  /** Estimated bytes of the values returned (sizes as estimated for L1). */
  bytesServed: number
  /** Stale values served (grace, soft timeout, fail-safe). */
  staleServed: number
  /** Invalidation messages received (tracking or bus). */
  invalidationsReceived: number
  /** Writes queued while Redis was unavailable and not yet replayed. */
  offlineWritesQueued: number
  /** True while L1 is trusted (coherence established). */
  coherent: boolean
}

/** Options of `warm()`. */
export interface WarmOptions {
  /** Loaders run at once. @default 8 */
  concurrency?: number
  /** Called after each key with the running totals. */
  onProgress?: (progress: { done: number; total: number; failed: number; key: string }) => void
  /** TTL of the warmed entries. */
  ttl?: Duration
}

/** One entry of `warm()`: a key and the loader of its value. */
export interface WarmLoader<T> {
  key: string
  load: () => T | Promise<T>
}
