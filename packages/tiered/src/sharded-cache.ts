import {
  type Duration,
  encodeKeyPart,
  InvalidOptionError,
  parseOptions,
  UnsupportedError,
} from '@cache/client'
import {
  type Cache,
  type CacheStats,
  type CacheVersion,
  checkKey,
  type Factory,
  type GetOrSetOptions,
  type MsetEntry,
  type SetOptions,
  type ValueWithTtl,
} from '@cache/core'
import { z } from 'zod'
import { DEFAULT_VIRTUAL_NODES, PKG } from './defaults.js'
import { closedError } from './errors.js'
import { HashRing } from './ring.js'
import { cascade, hasDetailedInvalidation } from './shard-cascade.js'

/** One shard: a stable name (its place on the ring) and the cache of one independent deployment. */
export interface Shard<T = unknown> {
  name: string
  cache: Cache<T>
}

/** Options of `new ShardedCache()`. */
export interface ShardedCacheOptions<T = unknown> {
  /** The shards. Names must be unique and stable: they decide which keys each shard owns. */
  shards: ReadonlyArray<Shard<T>>
  /** Points per shard on the hash ring (more: smoother spread, slower rebuilds). @default 160 */
  virtualNodes?: number
  /** Name in stats. @default 'sharded' */
  namespace?: string
  /**
   * Follow dependency chains across shards (`invalidate`/`invalidateTags` reach a dependant on another
   * shard than its dependency). Needs shards that name what they invalidated (RedisCache, TieredCache);
   * others are refused at construction with E_UNSUPPORTED unless this is false (dependencies then only
   * cascade within a shard). @default true
   */
  crossShardDependencies?: boolean
}

const shardSchema = z
  .object({
    name: z.string().min(1, 'must be a non-empty string'),
    cache: z.custom<Cache>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Cache).get === 'function',
      'must be a Cache',
    ),
  })
  .strict()

const schema = z
  .object({
    shards: z.array(shardSchema).min(1, 'must have at least one shard'),
    virtualNodes: z.number().int().min(1).max(10_000).default(DEFAULT_VIRTUAL_NODES),
    namespace: z.string().min(1).default('sharded'),
    crossShardDependencies: z.boolean().default(true),
  })
  .strict()

/**
 * Spreads keys over several independent deployments (each shard any Cache: TieredCache, RedisCache…) by
 * consistent hashing, beyond what one Redis Cluster does. Adding or removing one of N shards moves about
 * 1/N of the keys. Single-key operations go to the key's shard; multi-key ones are split per shard;
 * tag, dependency, pattern invalidation and `clear()` visit every shard, and dependency chains are followed
 * across shards (a dependant may live on another shard than the key it depends on; see shard-cascade.ts).
 * @example
 * const cache = new ShardedCache({ shards: [{ name: 'eu-1', cache: a }, { name: 'eu-2', cache: b }] })
 */
export class ShardedCache<T = unknown> implements Cache<T> {
  readonly namespace: string
  readonly #ring: HashRing
  readonly #shards = new Map<string, Cache<T>>()
  readonly #crossShard: boolean
  #closed = false

  constructor(options: ShardedCacheOptions<T>) {
    const o = parseOptions(PKG, schema, options)
    this.namespace = o.namespace
    for (const [i, s] of o.shards.entries()) {
      if (this.#shards.has(s.name))
        throw new InvalidOptionError(PKG, `shards.${i}.name`, `"${s.name}" is used twice`)
      this.#shards.set(s.name, s.cache as Cache<T>)
    }
    this.#crossShard = o.crossShardDependencies
    for (const [i, s] of o.shards.entries()) this.#checkDetailed(s.cache, `shards.${i}.cache`)
    this.#ring = new HashRing(this.#shards.keys(), o.virtualNodes)
  }

  #checkDetailed(cache: Cache<unknown>, field: string): void {
    if (!this.#crossShard || hasDetailedInvalidation(cache)) return
    throw new UnsupportedError(
      `[${PKG}] ${field}: this cache cannot name what it invalidated, so dependency chains cannot be followed across shards; use RedisCache or TieredCache shards, or crossShardDependencies: false`,
      { details: { field } },
    )
  }

  /** The shard names. */
  get shards(): string[] {
    return this.#ring.nodes
  }

  /** The name of the shard owning `key`. */
  shardFor(key: string): string {
    return this.#ring.lookup(checkKey(key))
  }

  /** Adds a shard: about 1/N of the keys now belong to it (they are misses there until written). */
  addShard(shard: Shard<T>): void {
    const s = parseOptions(PKG, shardSchema, shard, 'shard')
    if (this.#shards.has(s.name))
      throw new InvalidOptionError(PKG, 'shard.name', `"${s.name}" is already a shard`)
    this.#checkDetailed(s.cache, 'shard.cache')
    this.#shards.set(s.name, s.cache as Cache<T>)
    this.#ring.add(s.name)
  }

  /** Removes a shard (not closed: it is returned); its keys move to the others. */
  removeShard(name: string): Cache<T> | undefined {
    const cache = this.#shards.get(name)
    if (!cache) return undefined
    if (this.#shards.size === 1) throw new InvalidOptionError(PKG, 'name', 'cannot remove the last shard')
    this.#shards.delete(name)
    this.#ring.remove(name)
    return cache
  }

  #at(key: string, op: string): Cache<T> {
    if (this.#closed) throw closedError(op)
    return this.#shards.get(this.#ring.lookup(checkKey(key))) as Cache<T>
  }

  #all(op: string): Array<Cache<T>> {
    if (this.#closed) throw closedError(op)
    return [...this.#shards.values()]
  }

  async get(key: string): Promise<T | undefined> {
    return this.#at(key, 'get').get(key)
  }
  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    return this.#at(key, 'set').set(key, value, options)
  }
  async delete(key: string): Promise<boolean> {
    return this.#at(key, 'delete').delete(key)
  }
  async has(key: string): Promise<boolean> {
    return this.#at(key, 'has').has(key)
  }
  async ttl(key: string): Promise<number | undefined> {
    return this.#at(key, 'ttl').ttl(key)
  }
  async expire(key: string, ttl: Duration): Promise<boolean> {
    return this.#at(key, 'expire').expire(key, ttl)
  }
  async getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    return this.#at(key, 'getWithTtl').getWithTtl(key)
  }
  async setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    return this.#at(key, 'setIfAbsent').setIfAbsent(key, value, options)
  }
  async getOrSet(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    return this.#at(key, 'getOrSet').getOrSet(key, factory, options)
  }
  async versions(key: string): Promise<Array<CacheVersion<T>>> {
    return this.#at(key, 'versions').versions(key)
  }
  async rollback(key: string, version: number): Promise<void> {
    return this.#at(key, 'rollback').rollback(key, version)
  }

  async mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    if (this.#closed) throw closedError('mget')
    if (!Array.isArray(keys)) throw new InvalidOptionError(PKG, 'keys', 'must be an array of strings')
    const groups = new Map<string, number[]>()
    for (let i = 0; i < keys.length; i++) {
      const name = this.#ring.lookup(checkKey(keys[i], `keys.${i}`))
      const g = groups.get(name)
      if (g) g.push(i)
      else groups.set(name, [i])
    }
    const out: Array<T | undefined> = new Array(keys.length)
    await Promise.all(
      [...groups].map(async ([name, idx]) => {
        const values = await (this.#shards.get(name) as Cache<T>).mget(idx.map((i) => keys[i] as string))
        idx.forEach((i, j) => {
          out[i] = values[j]
        })
      }),
    )
    return out
  }

  async mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    if (this.#closed) throw closedError('mset')
    if (!Array.isArray(entries))
      throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
    const groups = new Map<string, Array<MsetEntry<T>>>()
    for (const e of entries) {
      const name = this.#ring.lookup(checkKey(e?.key))
      const g = groups.get(name)
      if (g) g.push(e)
      else groups.set(name, [e])
    }
    await Promise.all([...groups].map(([name, g]) => (this.#shards.get(name) as Cache<T>).mset(g, options)))
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    const shards = this.#all('invalidateTags')
    if (!this.#crossShard) {
      const counts = await Promise.all(shards.map((c) => c.invalidateTags(tags)))
      return counts.reduce((s, n) => s + n, 0)
    }
    return cascade(shards, (c) => c.invalidateTagsDetailed(tags), new Set())
  }

  async invalidate(key: string): Promise<number> {
    const shards = this.#all('invalidate')
    checkKey(key)
    if (!this.#crossShard) {
      const counts = await Promise.all(shards.map((c) => c.invalidate(key)))
      return counts.reduce((s, n) => s + n, 0)
    }
    return cascade(shards, (c) => c.invalidateDetailed(key), new Set([encodeKeyPart(key)]))
  }

  async deletePattern(glob: string): Promise<number> {
    const counts = await Promise.all(this.#all('deletePattern').map((c) => c.deletePattern(glob)))
    return counts.reduce((s, n) => s + n, 0)
  }

  async clear(): Promise<void> {
    await Promise.all(this.#all('clear').map((c) => c.clear()))
  }

  /** The sum of every shard's counters (latency: the worst shard's percentiles). */
  stats(): CacheStats {
    const all = [...this.#shards.values()].map((c) => c.stats())
    const sum = (f: 'hits' | 'misses' | 'sets' | 'deletes' | 'errors') => all.reduce((s, x) => s + x[f], 0)
    const hits = sum('hits')
    const misses = sum('misses')
    return {
      namespace: this.namespace,
      hits,
      misses,
      sets: sum('sets'),
      deletes: sum('deletes'),
      errors: sum('errors'),
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      latency: {
        p50: Math.max(0, ...all.map((x) => x.latency.p50)),
        p99: Math.max(0, ...all.map((x) => x.latency.p99)),
        samples: all.reduce((s, x) => s + x.latency.samples, 0),
      },
    }
  }

  /** Closes every shard. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#shards.values()].map((c) => c.close()))
  }

  /** `await using cache = …` closes the cache (and its shards). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
