/** Re-exported from @cache/client (the family's one connectivity check). */
export { isUnavailable } from '@cache/client'
export {
  DEFAULT_GRACE_MS,
  DEFAULT_L1_MAX_BYTES,
  DEFAULT_L1_MAX_ENTRIES,
  DEFAULT_L1_TTL_MS,
  DEFAULT_VIRTUAL_NODES,
} from './defaults.js'
export { FactoryTimeoutError, type TieredErrorCode } from './errors.js'
export type { LoadContext, LoadMissing } from './get-many.js'
export type {
  CoherenceMode,
  TieredCacheOptions,
  TieredEntryOptions,
  TieredGetManyOptions,
  TieredGetOrSetOptions,
} from './options.js'
export {
  type Region,
  type RegionStats,
  ReplicatedCache,
  type ReplicatedCacheOptions,
} from './replicated-cache.js'
export { HashRing, murmur3 } from './ring.js'
export { type Shard, ShardedCache, type ShardedCacheOptions } from './sharded-cache.js'
export type { Tier, TieredGetEvent } from './state.js'
export { TieredCache } from './tiered-cache.js'
export type {
  TierCounters,
  TieredFactory,
  TieredFactoryContext,
  TierStats,
  WarmLoader,
  WarmOptions,
} from './types.js'
export type { WarmResult, WarmSource } from './warming.js'
