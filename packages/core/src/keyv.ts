import { EventEmitter } from 'node:events'
import { escapeGlob } from '@cache/client'
import type { Cache } from './cache.js'
import { MAX_TTL_MS, MIN_TTL_MS } from './defaults.js'

/**
 * A Keyv storage adapter over any `Cache` (MemoryCache, RedisCache, a tiered cache), so Keyv, cache-manager
 * and cacheable users can store in @cache. Keyv keeps its own expiry timestamp inside the stored value, so
 * TTLs below 1 s are stored for 1 s (Keyv still reports the entry expired on time) and TTLs above 30 days
 * are capped at 30 days.
 * @example
 * import Keyv from 'keyv'
 * import { KeyvCacheStore } from '@cache/core/keyv'
 * const keyv = new Keyv({ store: new KeyvCacheStore(new RedisCache(conn, { namespace: 'keyv' })) })
 */
export class KeyvCacheStore extends EventEmitter {
  /** Options Keyv reads (and its test suite writes to). */
  opts: Record<string, unknown>
  /** Set by Keyv: keys arrive as `namespace:key`, and `clear()` removes only this namespace. */
  namespace: string | undefined
  /** The cache the values live in. */
  readonly cache: Cache<unknown>

  constructor(cache: Cache<unknown>, options: { namespace?: string } = {}) {
    super()
    this.cache = cache
    this.namespace = options.namespace
    this.opts = { dialect: '@cache/core' }
  }

  /** The stored value, or undefined. */
  async get<V>(key: string): Promise<V | undefined> {
    return (await this.cache.get(key)) as V | undefined
  }

  /** Values of several keys, in order. */
  async getMany<V>(keys: string[]): Promise<Array<V | undefined>> {
    return (await this.cache.mget(keys)) as Array<V | undefined>
  }

  /** Stores a value; `ttl` in ms (clamped to 1 s–30 d), or the cache's default TTL. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    if (typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0) {
      await this.cache.set(key, value, { ttl: Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.ceil(ttl))) })
    } else {
      await this.cache.set(key, value)
    }
    return true
  }

  /** Removes a key; true when it existed. */
  delete(key: string): Promise<boolean> {
    return this.cache.delete(key)
  }

  /** Removes keys; true when at least one existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((k) => this.cache.delete(k)))
    return results.some(Boolean)
  }

  /** True when the key exists. */
  has(key: string): Promise<boolean> {
    return this.cache.has(key)
  }

  /** Removes this Keyv namespace's keys (all of the cache's keys when Keyv has no namespace). */
  async clear(): Promise<void> {
    if (this.namespace) await this.cache.deletePattern(`${escapeGlob(this.namespace)}:*`)
    else await this.cache.clear()
  }

  /** Closes the cache. */
  async disconnect(): Promise<void> {
    await this.cache.close()
  }
}
