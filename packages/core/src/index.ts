export type {
  Cache,
  CacheStats,
  CacheVersion,
  Factory,
  FactoryContext,
  GetOrSetOptions,
  MsetEntry,
  SetOptions,
  ValueWithTtl,
} from './cache.js'
export { type GetEvent, getChannel, type InvalidateEvent, invalidateChannel } from './channels.js'
export {
  CODEC_HEADER_BYTES,
  CODEC_MAGIC,
  type Codec,
  type CodecContext,
  type CodecFormat,
  type CodecHeader,
  type CodecOptions,
  crc32,
  crc32Portable,
  createCodec,
  decode,
  defaultCodec,
  readCodecHeader,
} from './codec.js'
export {
  DEFAULT_COMPRESS_THRESHOLD,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_TTL_MS,
  MAX_TTL_MS,
  MIN_TTL_MS,
} from './defaults.js'
export {
  type CoreErrorCode,
  DecodeError,
  EncodeError,
  FactoryError,
  ValueTooLargeError,
  VersionNotFoundError,
} from './errors.js'
export { globToRedis, globToRegExp } from './glob.js'
export {
  type CacheableRequest,
  type CachedResponse,
  cacheLlm,
  cacheQuery,
  cacheResponse,
  type LlmRequest,
  llmCacheKey,
  queryCacheKey,
  type ResponseCacheOptions,
  responseCacheKey,
  responseTtl,
  stableHash,
  stableStringify,
} from './helpers.js'
export { CacheKeys } from './keys.js'
export { KeyvCacheStore } from './keyv.js'
export { availableMemory } from './memory.js'
export { MemoryCache, type MemoryCacheOptions } from './memory-cache.js'
export { RedisCache } from './redis-cache.js'
export type { RedisCacheOptions } from './redis-cache-options.js'
export { estimateSize } from './size.js'
export { checkKey, checkSetOptions, parseTtl, zTtl } from './ttl.js'
export { type HistoryEntry, parseHistoryEntry } from './versions.js'
export {
  type WriteBehindCache,
  type WriteBehindOptions,
  type WriteThroughCache,
  type WriteThroughSource,
  writeBehind,
  writeThrough,
} from './write-patterns.js'
