import { type Duration, InvalidOptionError, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import {
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MEMORY_FRACTION,
  DEFAULT_TTL_MS,
  MAX_MEMORY_FRACTION,
  PKG,
} from './defaults.js'
import { availableMemory } from './memory.js'
import { estimateSize } from './size.js'
import { zTtl } from './ttl.js'

/** Options of `new MemoryCache()`. */
export interface MemoryCacheOptions {
  /** Name of this cache in stats. @default 'memory' */
  namespace?: string
  /** Most entries kept; the least recently (LRU) or least frequently (LFU) used go first. @default 100000 */
  maxEntries?: number
  /** Byte budget (estimated sizes); at most 80% of available memory. @default 10% of available memory */
  maxBytes?: number
  /** Eviction policy. @default 'lru' */
  eviction?: 'lru' | 'lfu'
  /** TTL of entries set without one (1s–30d). @default '10m' */
  defaultTtl?: Duration
  /** Estimates an entry's size in bytes. @default a quick walk of the value */
  sizeOf?: (value: unknown, key: string) => number
  /** The clock (ms since epoch), for tests. @default Date.now */
  now?: () => number
  /** How often expired entries are swept out (they are never returned either way); `false` never. @default '1m' */
  sweepInterval?: Duration | false
}

/** `MemoryCacheOptions` checked and defaulted, as the cache uses them. */
export interface ResolvedMemoryCacheOptions {
  namespace: string
  limits: Readonly<{ maxEntries: number; maxBytes: number; eviction: 'lru' | 'lfu'; defaultTtlMs: number }>
  now: () => number
  sizeOf: (value: unknown, key: string) => number
  sweepIntervalMs: number | false
}

const schema = z
  .object({
    namespace: z.string().min(1).default('memory'),
    maxEntries: z.number().int().min(1, 'must be a positive integer').default(DEFAULT_MAX_ENTRIES),
    maxBytes: z.number().int().min(1, 'must be a positive integer').optional(),
    eviction: z.enum(['lru', 'lfu']).default('lru'),
    defaultTtl: zTtl().default(DEFAULT_TTL_MS),
    sizeOf: z.custom<(value: unknown, key: string) => number>((v) => typeof v === 'function').optional(),
    now: z.custom<() => number>((v) => typeof v === 'function').optional(),
    sweepInterval: z.union([z.literal(false), zDuration({ min: 100, max: 86_400_000 })]).default(60_000),
  })
  .strict()

const keepSchema = z.number().int().min(0).max(1000)

/** Validates and defaults `MemoryCacheOptions` once. @throws InvalidOptionError naming the option. */
export function resolveMemoryCacheOptions(options: MemoryCacheOptions): ResolvedMemoryCacheOptions {
  const o = parseOptions(PKG, schema, options)
  const ceiling = Math.floor(availableMemory() * MAX_MEMORY_FRACTION)
  if (o.maxBytes !== undefined && o.maxBytes > ceiling) {
    throw new InvalidOptionError(
      PKG,
      'maxBytes',
      `must be at most 80% of available memory (${ceiling} bytes), got ${o.maxBytes}`,
    )
  }
  return {
    namespace: o.namespace,
    limits: Object.freeze({
      maxEntries: o.maxEntries,
      maxBytes: o.maxBytes ?? Math.max(1, Math.floor(availableMemory() * DEFAULT_MEMORY_FRACTION)),
      eviction: o.eviction,
      defaultTtlMs: o.defaultTtl,
    }),
    now: o.now ?? Date.now,
    sizeOf: o.sizeOf ?? ((value, key) => estimateSize(value) + 2 * key.length + 96),
    sweepIntervalMs: o.sweepInterval,
  }
}

/** Checks `keepVersions` (0–1000). @throws InvalidOptionError naming `keepVersions`. */
export function parseKeep(n: unknown): number {
  const r = keepSchema.safeParse(n)
  if (!r.success)
    throw new InvalidOptionError(PKG, 'keepVersions', `must be an integer from 0 to 1000, got ${String(n)}`)
  return r.data
}
