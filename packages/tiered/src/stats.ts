import type { CacheStats } from '@cache/core'
import type { TieredState } from './state.js'
import type { TierCounters, TierStats } from './types.js'

/** Stats: per-tier analytics and the Cache contract's `stats()`. */

const counters = (hits: number, misses: number): TierCounters => ({
  hits,
  misses,
  hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
})

/** Hit ratios of L1/L2/L3, factory calls made and saved, bytes and stale values served. */
export function tierStats(st: TieredState): TierStats {
  const s = st.s
  return {
    l1: {
      ...counters(s.l1Hits, s.l1Misses),
      entries: st.l1.size,
      bytes: st.l1.bytes,
      evictions: st.l1.evictions,
    },
    l2: { ...counters(s.l2Hits, s.l2Misses), errors: s.l2Errors },
    l3: st.l3 ? { ...counters(s.l3Hits, s.l3Misses), errors: s.l3Errors } : undefined,
    factoryCalls: s.factoryCalls,
    factoryCallsSaved: s.saved,
    bytesServed: s.bytes,
    staleServed: s.stale,
    invalidationsReceived: s.invalidations,
    offlineWritesQueued: st.offline.size,
    coherent: st.trusted,
  }
}

/** Counters of the whole cache (hits of any tier); latency covers operations that reached Redis. */
export function cacheStats(st: TieredState): CacheStats {
  const s = st.s
  const hits = s.l1Hits + s.l2Hits + s.l3Hits
  const misses = st.l3 ? s.l3Misses : s.l2Misses
  return {
    namespace: st.namespace,
    hits,
    misses,
    sets: s.sets,
    deletes: s.deletes,
    errors: s.errors,
    hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
    latency: st.latency.summary(),
    entries: st.l1.size,
    bytes: st.l1.bytes,
    evictions: st.l1.evictions,
  }
}
