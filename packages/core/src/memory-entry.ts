import type { CacheVersion } from './cache.js'

/** One entry of a `MemoryCache`: the value with its expiry, estimated size, use count and indexes. */
export interface MemoryEntry {
  key: string
  value: unknown
  expiresAt: number
  size: number
  freq: number
  tags: readonly string[] | undefined
  deps: readonly string[] | undefined
  history: Array<CacheVersion<unknown>> | undefined
  nextVersion: number
}
