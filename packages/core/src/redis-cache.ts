import { type Connection, type Duration, InvalidOptionError, parseOptions, zDuration } from '@cache/client'
import type {
  Cache,
  CacheStats,
  CacheVersion,
  Factory,
  GetOrSetOptions,
  MsetEntry,
  SetOptions,
  ValueWithTtl,
} from './cache.js'
import { PKG } from './defaults.js'
import { closedError } from './errors.js'
import { type FlightHost, fly, LeaseWaiters } from './get-or-set.js'
import { clearAll, deleteMatching, type Invalidated, invalidateKey, invalidateTags } from './invalidation.js'
import { CacheKeys } from './keys.js'
import { ReadCoalescer } from './read-coalescer.js'
import { readMany, readWithTtl, settle } from './reads.js'
import { RedisCacheContext } from './redis-cache-context.js'
import { type RedisCacheOptions, type Resolved, schema } from './redis-cache-options.js'
import { type SharedCounters, SharedStats } from './shared-stats.js'
import { checkKey, checkSetOptions, parseTtl } from './ttl.js'
import { rollbackTo, versionsOf } from './versions.js'
import { write, writeMany } from './writes.js'

/**
 * A cache in Redis (standalone, Sentinel or Cluster) on an `@cache/client` Connection. One GET per read
 * (same-tick reads are coalesced into MGET), stampede-safe `getOrSet` across processes, tags, dependencies,
 * pattern deletion with SCAN on every master, and bounded version history.
 *
 * This class is the wiring; each concern lives in its own file: reads.ts and read-coalescer.ts, writes.ts,
 * invalidation.ts, versions.ts, get-or-set.ts, shared-stats.ts, over the shared redis-cache-context.ts.
 * @example
 * const conn = await connect('redis://127.0.0.1:6379')
 * const cache = new RedisCache(conn, { namespace: 'app', defaultTtl: '10m' })
 * const user = await cache.getOrSet('user:42', () => db.loadUser(42), { tags: ['users'] })
 */
export class RedisCache<T = unknown> implements Cache<T> {
  readonly namespace: string
  /** The resolved options. */
  readonly options: Readonly<Resolved>
  readonly #ctx: RedisCacheContext<T>
  readonly #reader: ReadCoalescer<T>
  readonly #flights = new Map<string, Promise<T>>()
  readonly #waiters: LeaseWaiters
  readonly #shared: SharedStats<T>
  #statsTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(conn: Connection, options: RedisCacheOptions = {}) {
    const o = parseOptions(PKG, schema, options)
    this.options = o
    this.namespace = o.namespace
    const ctx = new RedisCacheContext<T>(conn, new CacheKeys(conn.keys.child(o.namespace)), o)
    this.#ctx = ctx
    this.#waiters = new LeaseWaiters(conn, ctx.keys.channel)
    this.#shared = new SharedStats(ctx)
    this.#reader = new ReadCoalescer<T>(conn, {
      coalesce: o.coalesce,
      maxBatch: o.coalesceMaxBatch,
      settle: (key, raw, count) => settle(ctx, key, raw, count),
      fail: (err) => ctx.fail(err),
      latency: (ms) => ctx.stats.latency(ms),
    })
    if (o.sharedStats) {
      this.#statsTimer = setInterval(() => {
        this.flushStats().catch(() => {})
      }, o.statsFlushInterval)
      this.#statsTimer.unref()
    }
  }

  /** The key builder of this cache (its whole Redis key layout), for packages layered on it. */
  get keys(): CacheKeys {
    return this.#ctx.keys
  }

  /** The Redis key that holds `key`'s value (for inspection and tests). */
  redisKey(key: string): string {
    return this.#ctx.keys.value(checkKey(key))
  }

  #check(op: string): void {
    if (this.#closed) throw closedError(op)
  }

  // ---- reads ---------------------------------------------------------------------------------------

  get(key: string): Promise<T | undefined> {
    if (this.#closed) return Promise.reject(closedError('get'))
    let rk: string
    try {
      rk = this.#ctx.keys.value(checkKey(key))
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#reader.read(key, rk)
  }

  async mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.#check('mget')
    return readMany(this.#ctx, keys)
  }

  async has(key: string): Promise<boolean> {
    this.#check('has')
    const rk = this.#ctx.keys.value(checkKey(key))
    return (await this.#ctx.send<number>(['EXISTS', rk], rk)) === 1
  }

  async ttl(key: string): Promise<number | undefined> {
    this.#check('ttl')
    const rk = this.#ctx.keys.value(checkKey(key))
    const ms = await this.#ctx.send<number>(['PTTL', rk], rk)
    if (ms === -2) return undefined
    return ms < 0 ? Number.POSITIVE_INFINITY : ms
  }

  async getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    this.#check('getWithTtl')
    return readWithTtl(this.#ctx, key)
  }

  // ---- writes --------------------------------------------------------------------------------------

  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    this.#check('set')
    const t0 = performance.now()
    await write(this.#ctx, key, value, options, false)
    this.#ctx.stats.latency(performance.now() - t0)
  }

  async setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    this.#check('setIfAbsent')
    return write(this.#ctx, key, value, options, true)
  }

  async mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    this.#check('mset')
    const t0 = performance.now()
    await writeMany(this.#ctx, entries, options)
    this.#ctx.stats.latency(performance.now() - t0)
  }

  async expire(key: string, ttl: Duration): Promise<boolean> {
    this.#check('expire')
    const ms = parseTtl(ttl)
    const rk = this.#ctx.keys.value(checkKey(key))
    return (await this.#ctx.send<number>(['PEXPIRE', rk, String(ms)], rk)) === 1
  }

  async delete(key: string): Promise<boolean> {
    this.#check('delete')
    const keys = this.#ctx.keys
    const part = keys.part(checkKey(key))
    const rk = keys.valueOf(part)
    const [n] = await Promise.all([
      this.#ctx.send<number>(['DEL', rk], rk),
      this.#ctx.send<number>(['DEL', keys.history(part)], rk),
    ])
    if (n > 0) this.#ctx.stats.deletes++
    return n > 0
  }

  // ---- invalidation --------------------------------------------------------------------------------

  async invalidate(key: string): Promise<number> {
    return (await this.invalidateDetailed(key)).removed
  }

  /**
   * `invalidate()`, also naming the escaped key parts (`encodeKeyPart`) it removed — the key and its
   * dependants at every level — so that a tier above (the tiered cache's L1) drops exactly those entries.
   */
  async invalidateDetailed(key: string): Promise<Invalidated> {
    this.#check('invalidate')
    return invalidateKey(this.#ctx, key)
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    return (await this.invalidateTagsDetailed(tags)).removed
  }

  /** `invalidateTags()`, also naming the escaped key parts it removed (tagged keys and their dependants). */
  async invalidateTagsDetailed(tags: readonly string[]): Promise<Invalidated> {
    this.#check('invalidateTags')
    return invalidateTags(this.#ctx, tags)
  }

  async deletePattern(glob: string): Promise<number> {
    this.#check('deletePattern')
    return deleteMatching(this.#ctx, glob)
  }

  async clear(): Promise<void> {
    this.#check('clear')
    await clearAll(this.#ctx)
  }

  // ---- versions ------------------------------------------------------------------------------------

  async versions(key: string): Promise<Array<CacheVersion<T>>> {
    this.#check('versions')
    return versionsOf(this.#ctx, key)
  }

  async rollback(key: string, version: number): Promise<void> {
    this.#check('rollback')
    checkKey(key)
    await rollbackTo(this.#ctx, key, version, await this.ttl(key))
  }

  // ---- read-through --------------------------------------------------------------------------------

  async getOrSet(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    this.#check('getOrSet')
    checkKey(key)
    if (typeof factory !== 'function') throw new InvalidOptionError(PKG, 'factory', 'must be a function')
    checkSetOptions(options)
    const leaseMs =
      options?.lease === undefined
        ? this.options.lease
        : parseOptions(PKG, zDuration({ min: 100, max: 300_000 }), options.lease, 'lease')
    const hit = await this.get(key)
    if (hit !== undefined) return hit
    let flight = this.#flights.get(key)
    if (!flight) {
      const ctx = this.#ctx
      const host: FlightHost<T> = {
        conn: ctx.conn,
        keys: ctx.keys,
        leasePoll: this.options.leasePoll,
        check: (op) => this.#check(op),
        // Re-reads inside the flight are not hits or misses of their own: the call's first read counted.
        get: (k) => this.#reader.read(k, ctx.keys.value(k), false),
        store: async (k, value) => {
          await write(ctx, k, value, options, false)
        },
        fail: (err) => ctx.fail(err),
      }
      flight = fly(host, this.#waiters, key, factory, leaseMs).finally(() => this.#flights.delete(key))
      this.#flights.set(key, flight)
    }
    return flight
  }

  // ---- stats ---------------------------------------------------------------------------------------

  stats(): CacheStats {
    return this.#ctx.stats.snapshot(this.namespace)
  }

  /** Adds the counters accumulated since the last flush to the shared hash in Redis. */
  flushStats(): Promise<void> {
    return this.#shared.flush()
  }

  /** Counters of every process sharing this namespace (flushes this process's first). */
  async sharedStats(): Promise<SharedCounters> {
    this.#check('sharedStats')
    return this.#shared.read()
  }

  /** `await using x = …` closes it (same as `close()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#statsTimer) clearInterval(this.#statsTimer)
    if (this.options.sharedStats) await this.flushStats().catch(() => {})
    await this.#waiters.close()
  }
}
