import { EventEmitter } from 'node:events'
import { CacheError, type Connection, type Duration, parseOptions } from '@cache/client'
import {
  type Cache,
  type CacheStats,
  type CacheVersion,
  checkKey,
  type MsetEntry,
  type SetOptions,
  type ValueWithTtl,
} from '@cache/core'
import { flushL1, invalidated, patternInvalidated, setTrusted } from './bookkeeping.js'
import { PKG } from './defaults.js'
import { l1Fresh } from './envelope.js'
import { getManyOrSet, type LoadMissing } from './get-many.js'
import * as inv from './invalidation.js'
import {
  type CoherenceMode,
  connectionSchema,
  optionsSchema,
  type ResolvedTieredOptions,
  type TieredCacheOptions,
  type TieredGetManyOptions,
  type TieredGetOrSetOptions,
} from './options.js'
import { eagerRefresh, getOrSetSlow } from './read-through.js'
import * as reads from './reads.js'
import { check, counted, createState, problem, type TieredState, ttlOf } from './state.js'
import { cacheStats, tierStats } from './stats.js'
import type { TieredFactory, TierStats, WarmLoader, WarmOptions } from './types.js'
import { type WarmResult, type WarmSource, warm, warmEvery } from './warming.js'
import * as writes from './writes.js'

/**
 * A three-tier cache: L1 in process memory, L2 in Redis (a @cache/core RedisCache), optional L3 (any
 * Cache). Implements the @cache/core `Cache` contract. L1 stays coherent across processes through CLIENT
 * TRACKING or a pub/sub bus; getOrSet adds grace (stale-while-revalidate), fail-safe, soft and hard factory
 * timeouts and eager refresh; Redis outages are absorbed by L1 (see docs/tiered-cache.md).
 *
 * This class is the facade; each concern lives in its own file: state.ts (wiring), bookkeeping.ts
 * (coherence), envelope.ts (L1 fill, L3 promotion), reads.ts, writes.ts (and the offline queue),
 * invalidation.ts, read-through.ts (timeouts, refresh lease), get-many.ts, warming.ts, stats.ts.
 *
 * Events: `fail-safe` ({ key, reason }), `coherence` ({ trusted }), `refresh-error` ({ key, error }),
 * `offline-write` ({ key, dropped }), `replayed` ({ count }), `invalidate` ({ parts }, only when listened
 * to), `problem` (a non-fatal CacheError or Error).
 */
export class TieredCache<T = unknown> extends EventEmitter implements Cache<T> {
  readonly namespace: string
  /** The resolved options. */
  readonly options: Readonly<ResolvedTieredOptions>
  /** Resolves once the coherence mechanism is established (L1 is trusted from then on). */
  readonly ready: Promise<void>
  /** The coherence mode. */
  readonly coherence: CoherenceMode
  readonly #st: TieredState

  /**
   * @param conn the @cache/client Connection of the L2 (Redis) tier (validated as the field `connection`).
   * @example
   * const cache = new TieredCache<User>(conn, { namespace: 'users', l1: { maxEntries: 10_000 }, grace: '1h' })
   * const user = await cache.getOrSet('user:42', () => db.loadUser(42))
   */
  constructor(conn: Connection, options: TieredCacheOptions = {}) {
    super()
    const connection = parseOptions(PKG, connectionSchema, conn, 'connection') as Connection
    const o = parseOptions(PKG, optionsSchema, options)
    this.options = o
    this.namespace = o.namespace
    this.coherence = o.coherence
    const st = createState(connection, o, this, {
      invalidate: (parts) => invalidated(st, parts),
      flush: () => flushL1(st),
      pattern: (glob) => patternInvalidated(st, glob),
      trust: (trusted) => {
        if (setTrusted(st, trusted)) writes.replay(st)
      },
      problem: (err) => problem(st, err),
    })
    this.#st = st
    this.ready = st.co.start()
    // Until ready, L1 is simply not trusted; the rejection is reported through `problem`.
    this.ready.catch(() => {})
  }

  // ---- reads (the L1 hot path stays here: one Map lookup and an expiry check) ----------------------

  get(key: string): Promise<T | undefined> {
    const st = this.#st
    if (!st.closed) {
      const e = st.l1.map.get(key)
      if (e !== undefined && e.gen === st.gen && st.trusted && st.now() < e.fresh) {
        e.used = true
        counted(st, 'l1', 'hit')
        st.s.bytes += e.size
        return Promise.resolve(e.value as T)
      }
    }
    return reads.getSlow<T>(st, key)
  }

  has(key: string): Promise<boolean> {
    return reads.has(this.#st, key)
  }

  getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    return reads.getWithTtl<T>(this.#st, key)
  }

  async ttl(key: string): Promise<number | undefined> {
    return (await this.getWithTtl(key))?.ttl
  }

  mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    return reads.mget<T>(this.#st, keys)
  }

  // ---- writes -------------------------------------------------------------------------------------

  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    const st = this.#st
    check(st, 'set')
    checkKey(key)
    const t0 = performance.now()
    await writes.write(st, { key, value, ttl: ttlOf(st, options), options, nx: false, grace: 0 })
    st.latency.since(t0)
  }

  setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    const st = this.#st
    check(st, 'setIfAbsent')
    checkKey(key)
    return writes.write(st, { key, value, ttl: ttlOf(st, options), options, nx: true, grace: 0 })
  }

  mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    return writes.mset(this.#st, entries, options)
  }

  expire(key: string, ttl: Duration): Promise<boolean> {
    return writes.expire(this.#st, key, ttl)
  }

  versions(key: string): Promise<Array<CacheVersion<T>>> {
    return writes.versions<T>(this.#st, key)
  }

  async rollback(key: string, version: number): Promise<void> {
    check(this.#st, 'rollback')
    await writes.rollback(this.#st, key, version, () => this.ttl(key))
  }

  // ---- invalidation -------------------------------------------------------------------------------

  delete(key: string): Promise<boolean> {
    return inv.deleteKey(this.#st, key)
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    return (await inv.invalidateTags(this.#st, tags)).removed
  }

  /** `invalidateTags()`, also naming the escaped key parts (`encodeKeyPart`) it removed, dependants included. */
  invalidateTagsDetailed(tags: readonly string[]): Promise<{ removed: number; parts: string[] }> {
    return inv.invalidateTags(this.#st, tags)
  }

  async invalidate(key: string): Promise<number> {
    return (await inv.invalidate(this.#st, key)).removed
  }

  /** `invalidate()`, also naming the escaped key parts it removed (the key and its dependants at every level). */
  invalidateDetailed(key: string): Promise<{ removed: number; parts: string[] }> {
    return inv.invalidate(this.#st, key)
  }

  deletePattern(glob: string): Promise<number> {
    return inv.deletePattern(this.#st, glob)
  }

  clear(): Promise<void> {
    return inv.clear(this.#st)
  }

  // ---- read-through -------------------------------------------------------------------------------

  /**
   * Read-through with grace, fail-safe, soft/hard timeouts and eager refresh. A miss runs the factory once
   * across processes (the RedisCache lease); a stale value (within `grace`) is refreshed by one process
   * while the others keep serving it.
   * @example const user = await cache.getOrSet('user:42', ({ signal }) => db.loadUser(42, { signal }), { ttl: '5m' })
   */
  getOrSet(key: string, factory: TieredFactory<T>, options?: TieredGetOrSetOptions): Promise<T> {
    const st = this.#st
    if (!st.closed) {
      const e = st.l1.map.get(key)
      if (e !== undefined && e.gen === st.gen && st.trusted) {
        const now = st.now()
        if (now < e.fresh) {
          e.used = true
          counted(st, 'l1', 'hit')
          st.s.saved++
          st.s.bytes += e.size
          const eager = options?.eagerRefresh ?? st.defaults.eager
          if (eager > 0 && now >= e.exp - e.ttl * (1 - eager) && !st.flights.has(key)) {
            eagerRefresh(st, key, factory, options, { value: e.value, exp: e.exp, ttl: e.ttl })
          }
          return Promise.resolve(e.value as T)
        }
      }
    }
    return getOrSetSlow(st, key, factory, options)
  }

  /**
   * Read-through for a batch: getOrSet's guarantees for every key (one computation per key in the process
   * and across processes, grace, fail-safe, soft/hard timeouts, eager refresh), with `loadMissing` called
   * once with only the keys this process computes. Returns a Map of the keys that have a value, in the
   * order of `keys`; a key the loader does not return is absent (remembered for `cacheMisses` if set).
   * @example
   * const users = await cache.getManyOrSet(ids, (missing) => db.usersById(missing), { ttl: '5m', tags: ['users'] })
   */
  getManyOrSet(
    keys: readonly string[],
    loadMissing: LoadMissing<T>,
    options?: TieredGetManyOptions<T>,
  ): Promise<Map<string, T>> {
    return getManyOrSet(this.#st, keys, loadMissing, options)
  }

  // ---- warming ------------------------------------------------------------------------------------

  /**
   * Preloads keys with up to `concurrency` loaders at once, reporting progress. A failing loader is counted
   * (and reported in the result), not thrown.
   */
  warm(loaders: ReadonlyArray<WarmLoader<T>>, options: WarmOptions = {}): Promise<WarmResult> {
    return warm(this.#st, loaders, options, (key, value, o) => this.set(key, value, o))
  }

  /**
   * Runs `warm(loaders)` now and then every `interval` until `stop()` (or `close()`); a run does not start
   * while the previous one is still going. Results reach `onRun`.
   * @example const job = cache.warmEvery(() => topProducts(), '5m', { concurrency: 4 })
   */
  warmEvery(
    loaders: WarmSource<T>,
    interval: Duration,
    options: WarmOptions & { onRun?: (result: { done: number; failed: number }) => void } = {},
  ): { stop(): void; readonly runs: number } {
    return warmEvery(this.#st, loaders, interval, options, (list) => this.warm(list, options))
  }

  // ---- stats and lifecycle ------------------------------------------------------------------------

  /** Hit ratios of L1/L2/L3, factory calls made and saved, bytes and stale values served. */
  tierStats(): TierStats {
    return tierStats(this.#st)
  }

  /** Counters of the whole cache (hits of any tier); latency covers operations that reached Redis. */
  stats(): CacheStats {
    return cacheStats(this.#st)
  }

  /** True when L1 holds a value for `key` that would be served without asking Redis. */
  cachedLocally(key: string): boolean {
    return l1Fresh(this.#st, key, this.#st.now()) !== undefined
  }

  /** The Redis key that holds `key`'s value in L2 (for inspection and tests). */
  redisKey(key: string): string {
    return this.#st.l2.redisKey(key)
  }

  /** True while L1 is trusted (the coherence mechanism is established). */
  get coherent(): boolean {
    return this.#st.trusted
  }

  /** Stops coherence, aborts running factories and releases timers; the connection stays open. Idempotent. */
  async close(): Promise<void> {
    const st = this.#st
    if (st.closed) return
    st.closed = true
    if (st.offlineTimer) clearInterval(st.offlineTimer)
    for (const t of st.timers) clearInterval(t)
    for (const c of st.aborts) c.abort(new CacheError('E_CLOSED', `[${PKG}] the cache was closed`))
    await st.co.close()
    await st.l2.close()
    st.l1.clear()
  }

  /** `await using cache = …` closes the cache. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
