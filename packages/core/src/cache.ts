import type { Duration } from '@cache/client'

/** Options of `set()`, `mset()` and `setIfAbsent()`. */
export interface SetOptions {
  /** Time to live, 1s–30d (ms or `'5m'`). @default the cache's `defaultTtl` */
  ttl?: Duration
  /** Tags: `invalidateTags([tag])` removes every key carrying one of them. */
  tags?: readonly string[]
  /** Keys this entry depends on: `invalidate(dep)` removes this entry too (and what depends on it). */
  dependsOn?: readonly string[]
  /** Keep the last `n` values in the key's history (`versions()`, `rollback()`). @default 0 (no history) */
  keepVersions?: number
}

/** Options of `getOrSet()`. */
export interface GetOrSetOptions extends SetOptions {
  /** Cross-process lease length (RedisCache): another process may take over after it. @default '10s' */
  lease?: Duration
}

/** What a getOrSet factory receives. */
export interface FactoryContext {
  /** The key being computed. */
  key: string
}

/** A read-through factory: computes the value of a missing key. */
export type Factory<T> = (ctx: FactoryContext) => T | Promise<T>

/** One entry of `mset()`. */
export interface MsetEntry<T> extends SetOptions {
  key: string
  value: T
}

/** A value with its remaining time to live, from `getWithTtl()`. */
export interface ValueWithTtl<T> {
  value: T
  /** Milliseconds left. */
  ttl: number
}

/** One entry of a key's history, newest first. */
export interface CacheVersion<T> {
  /** Increasing number per key, starting at 1. */
  version: number
  /** When it was written (ms since epoch). */
  createdAt: number
  value: T
}

/** Counters and latency of one cache (one namespace). */
export interface CacheStats {
  namespace: string
  hits: number
  misses: number
  sets: number
  deletes: number
  errors: number
  /** hits / (hits + misses), 0 when nothing was read. */
  hitRatio: number
  /** Read/write latency percentiles over recent operations (ms). */
  latency: { p50: number; p99: number; samples: number }
  /** MemoryCache only: entries, estimated bytes and evictions. */
  entries?: number
  bytes?: number
  evictions?: number
}

/**
 * The contract every cache implements (memory, Redis, tiered). Keys are non-empty strings; values are
 * anything the codec encodes except `undefined` (a miss reads as `undefined`). Every entry expires (TTL
 * 1s–30d). Failures reject with a CacheError carrying a stable `code`.
 */
export interface Cache<T = unknown> {
  /** The cache's namespace (its keys, stats and `clear()` are scoped to it). */
  readonly namespace: string
  /** The value, or `undefined` on a miss. */
  get(key: string): Promise<T | undefined>
  /** Stores a value. @throws E_ENCODE / E_VALUE_TOO_LARGE (nothing stored), E_INVALID_OPTION. */
  set(key: string, value: T, options?: SetOptions): Promise<void>
  /** Removes a key; true when it existed. */
  delete(key: string): Promise<boolean>
  /** True when the key holds a live value. */
  has(key: string): Promise<boolean>
  /** Milliseconds left, or `undefined` when the key is missing. */
  ttl(key: string): Promise<number | undefined>
  /** Sets a new TTL; false when the key is missing. */
  expire(key: string, ttl: Duration): Promise<boolean>
  /** The value and its remaining TTL, or `undefined`. */
  getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined>
  /** Stores only when the key is missing; true when stored. */
  setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean>
  /** Values of several keys, in order (`undefined` for misses). */
  mget(keys: readonly string[]): Promise<Array<T | undefined>>
  /** Stores several entries. */
  mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void>
  /**
   * Read-through: the cached value, or the factory's result stored under `key`. One factory call per key
   * at a time in a process (and across processes for Redis-backed caches); a factory error reaches every
   * waiter and nothing is cached.
   */
  getOrSet(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T>
  /** Removes every key carrying one of the tags (and their dependants); returns how many were removed. */
  invalidateTags(tags: readonly string[]): Promise<number>
  /** Removes a key and, transitively, every key that depends on it; returns how many were removed. */
  invalidate(key: string): Promise<number>
  /** Removes keys matching a glob (`*`, `?`, `[…]`; `\` escapes) inside the namespace; returns the count. */
  deletePattern(glob: string): Promise<number>
  /** Removes every key of the namespace. */
  clear(): Promise<void>
  /** The key's history, newest first (kept when written with `keepVersions`). */
  versions(key: string): Promise<Array<CacheVersion<T>>>
  /** Makes an earlier version current again (recorded as a new version). @throws E_VERSION_NOT_FOUND */
  rollback(key: string, version: number): Promise<void>
  /** Counters and latency percentiles of this cache. */
  stats(): CacheStats
  /** Releases resources (timers, subscriptions). Idempotent; later calls reject with E_CLOSED. */
  close(): Promise<void>
}
