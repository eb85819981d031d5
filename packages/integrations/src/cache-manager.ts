/**
 * cache-manager (v6+) and NestJS's CacheModule: a Keyv store over any @cache Cache (a TieredCache, a
 * RedisCache). Import from `@cache/integrations/cache-manager` (keyv is an optional peer; @nestjs/cache-manager
 * and cache-manager are the caller's).
 * @example CacheModule.register({ isGlobal: true, stores: [cacheManagerStore(new TieredCache(conn, { namespace: 'nest' }))] })
 */
import { type Duration, InvalidArgumentError, InvalidOptionError, parseDuration } from '@cache/client'
import { type Cache, KeyvCacheStore } from '@cache/core'
import { Keyv } from 'keyv'
import { MAX_ENTRY_MS, MIN_ENTRY_MS, PKG } from './defaults.js'

/** Options of `cacheManagerStore(cache, options)`. */
export interface CacheManagerStoreOptions {
  /** TTL of entries set without one (1s–30d). @default the cache's own default TTL */
  ttl?: Duration
}

const isCache = (v: unknown): v is Cache<unknown> =>
  typeof v === 'object' &&
  v !== null &&
  ['get', 'set', 'delete', 'has', 'clear', 'close'].every(
    (m) => typeof (v as Record<string, unknown>)[m] === 'function',
  )

/**
 * A Keyv instance storing in `cache`, in the shape cache-manager v6+ and @nestjs/cache-manager take as a
 * store (`createCache({ stores: [...] })`, `CacheModule.register({ stores: [...] })`). Values go to the cache as
 * they are (Keyv's JSON step is off: the cache's codec serialises them, and encrypts them with an
 * encryptionCodec), under the key cache-manager names with no Keyv prefix, so the cache's namespace scopes
 * the keys and `clear()` (cache-manager's `clear()` clears that namespace only). A TieredCache gives the
 * CacheModule an L1 kept coherent across instances; Keyv still keeps its `expires` beside each value.
 *
 * @example
 * const cache = createCache({ stores: [cacheManagerStore(new TieredCache(conn, { namespace: 'app' }))] })
 * await cache.wrap('user:42', () => loadUser(42), 60_000)
 */
export function cacheManagerStore(cache: Cache<unknown>, options: CacheManagerStoreOptions = {}): Keyv {
  if (!isCache(cache))
    throw new InvalidArgumentError(PKG, 'cache', 'must be a Cache (a TieredCache or RedisCache)')
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError(PKG, 'options', 'must be an object')
  const ttl =
    options.ttl === undefined
      ? undefined
      : parseDuration(options.ttl, { field: 'ttl', min: MIN_ENTRY_MS, max: MAX_ENTRY_MS, pkg: PKG })
  return new Keyv({
    store: new KeyvCacheStore(cache),
    namespace: '',
    useKeyPrefix: false,
    serialize: undefined,
    deserialize: undefined,
    throwOnErrors: true,
    ...(ttl === undefined ? {} : { ttl }),
  })
}
