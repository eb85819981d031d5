import { type Duration, InvalidOptionError, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
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
import { publishInvalidate } from './channels.js'
import {
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MEMORY_FRACTION,
  DEFAULT_TTL_MS,
  MAX_MEMORY_FRACTION,
  PKG,
} from './defaults.js'
import { closedError, EncodeError, VersionNotFoundError } from './errors.js'
import { globToRegExp } from './glob.js'
import { availableMemory } from './memory.js'
import { estimateSize } from './size.js'
import { StatsRecorder } from './stats.js'
import { checkKey, checkList, checkSetOptions, parseTtl, zTtl } from './ttl.js'

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

interface Entry {
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

/**
 * An in-process cache bounded by entries and by estimated bytes, with LRU or LFU eviction. Values are
 * kept by reference (not copied). An expired entry is never returned.
 * @example
 * const local = new MemoryCache({ maxEntries: 10_000, eviction: 'lfu', defaultTtl: '1m' })
 * await local.set('user:1', { name: 'Ada' })
 */
export class MemoryCache<T = unknown> implements Cache<T> {
  readonly namespace: string
  /** The resolved options. */
  readonly options: Readonly<{
    maxEntries: number
    maxBytes: number
    eviction: 'lru' | 'lfu'
    defaultTtlMs: number
  }>
  readonly #map = new Map<string, Entry>()
  /** LFU: entries by use count, each set in insertion (age) order. */
  readonly #buckets = new Map<number, Set<Entry>>()
  #minFreq = 1
  readonly #lfu: boolean
  readonly #tags = new Map<string, Set<string>>()
  readonly #dependants = new Map<string, Set<string>>()
  readonly #inflight = new Map<string, Promise<T>>()
  readonly #stats = new StatsRecorder()
  readonly #now: () => number
  readonly #sizeOf: (value: unknown, key: string) => number
  #bytes = 0
  #evictions = 0
  #closed = false
  readonly #sweeper: NodeJS.Timeout | undefined

  constructor(options: MemoryCacheOptions = {}) {
    const o = parseOptions(PKG, schema, options)
    const ceiling = Math.floor(availableMemory() * MAX_MEMORY_FRACTION)
    if (o.maxBytes !== undefined && o.maxBytes > ceiling) {
      throw new InvalidOptionError(
        PKG,
        'maxBytes',
        `must be at most 80% of available memory (${ceiling} bytes), got ${o.maxBytes}`,
      )
    }
    this.namespace = o.namespace
    this.options = Object.freeze({
      maxEntries: o.maxEntries,
      maxBytes: o.maxBytes ?? Math.max(1, Math.floor(availableMemory() * DEFAULT_MEMORY_FRACTION)),
      eviction: o.eviction,
      defaultTtlMs: o.defaultTtl,
    })
    this.#lfu = o.eviction === 'lfu'
    this.#now = o.now ?? Date.now
    this.#sizeOf = o.sizeOf ?? ((value, key) => estimateSize(value) + 2 * key.length + 96)
    if (o.sweepInterval !== false) {
      this.#sweeper = setInterval(() => this.purgeExpired(), o.sweepInterval)
      this.#sweeper.unref()
    }
  }

  /** Removes every expired entry now (also done every `sweepInterval`); returns how many. */
  purgeExpired(): number {
    const now = this.#now()
    let purged = 0
    for (const e of [...this.#map.values()]) {
      if (e.expiresAt <= now) {
        this.#remove(e)
        purged++
      }
    }
    return purged
  }

  /** Live entries (expired ones not yet swept may be counted). */
  get size(): number {
    return this.#map.size
  }

  #live(key: string): Entry | undefined {
    const e = this.#map.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt <= this.#now()) {
      this.#remove(e)
      return undefined
    }
    return e
  }

  #touch(e: Entry): void {
    if (this.#lfu) {
      const bucket = this.#buckets.get(e.freq)!
      bucket.delete(e)
      if (bucket.size === 0) {
        this.#buckets.delete(e.freq)
        if (this.#minFreq === e.freq) this.#minFreq = e.freq + 1
      }
      e.freq++
      this.#bucket(e.freq).add(e)
    } else {
      this.#map.delete(e.key)
      this.#map.set(e.key, e)
    }
  }

  #bucket(freq: number): Set<Entry> {
    let b = this.#buckets.get(freq)
    if (b === undefined) {
      b = new Set()
      this.#buckets.set(freq, b)
    }
    return b
  }

  #remove(e: Entry): void {
    this.#map.delete(e.key)
    this.#bytes -= e.size
    if (this.#lfu) {
      const bucket = this.#buckets.get(e.freq)
      if (bucket) {
        bucket.delete(e)
        if (bucket.size === 0) this.#buckets.delete(e.freq)
      }
    }
    if (e.tags) for (const t of e.tags) this.#unindex(this.#tags, t, e.key)
    if (e.deps) for (const d of e.deps) this.#unindex(this.#dependants, d, e.key)
  }

  #unindex(index: Map<string, Set<string>>, name: string, key: string): void {
    const set = index.get(name)
    if (set) {
      set.delete(key)
      if (set.size === 0) index.delete(name)
    }
  }

  #victim(): Entry | undefined {
    if (!this.#lfu) return this.#map.values().next().value
    let bucket = this.#buckets.get(this.#minFreq)
    if (bucket === undefined || bucket.size === 0) {
      this.#minFreq = Math.min(...this.#buckets.keys())
      bucket = this.#buckets.get(this.#minFreq)
    }
    return bucket?.values().next().value
  }

  #evict(): void {
    const { maxEntries, maxBytes } = this.options
    while (this.#map.size > maxEntries || (this.#bytes > maxBytes && this.#map.size > 0)) {
      const victim = this.#victim()
      if (victim === undefined) return
      this.#remove(victim)
      this.#evictions++
    }
  }

  #check(op: string): void {
    if (this.#closed) throw closedError(op)
  }

  #ttl(options: SetOptions | undefined): number {
    return options?.ttl === undefined ? this.options.defaultTtlMs : parseTtl(options.ttl)
  }

  #store(key: string, value: T, options: SetOptions | undefined): void {
    checkKey(key)
    if (value === undefined)
      throw new EncodeError('undefined cannot be cached (a miss reads as undefined)', { key })
    const ttl = this.#ttl(options)
    const tags = options?.tags ? checkList(options.tags, 'tags') : undefined
    const deps = options?.dependsOn ? checkList(options.dependsOn, 'dependsOn') : undefined
    const keep = options?.keepVersions === undefined ? 0 : parseKeep(options.keepVersions)
    const now = this.#now()
    const old = this.#map.get(key)
    let history = old && old.expiresAt > now ? old.history : undefined
    let nextVersion = old && old.expiresAt > now ? old.nextVersion : 1
    if (keep > 0) {
      history = [{ version: nextVersion++, createdAt: now, value }, ...(history ?? [])].slice(0, keep)
    }
    const size = this.#sizeOf(value, key)
    if (old) this.#remove(old)
    const e: Entry = {
      key,
      value,
      expiresAt: now + ttl,
      size,
      freq: 1,
      tags: tags && tags.length > 0 ? [...new Set(tags)] : undefined,
      deps: deps && deps.length > 0 ? [...new Set(deps)] : undefined,
      history,
      nextVersion,
    }
    this.#map.set(key, e)
    this.#bytes += size
    if (this.#lfu) {
      this.#bucket(1).add(e)
      this.#minFreq = 1
    }
    if (e.tags) for (const t of e.tags) this.#index(this.#tags, t, key)
    if (e.deps) for (const d of e.deps) this.#index(this.#dependants, d, key)
    this.#stats.sets++
    this.#evict()
  }

  #index(index: Map<string, Set<string>>, name: string, key: string): void {
    let set = index.get(name)
    if (set === undefined) {
      set = new Set()
      index.set(name, set)
    }
    set.add(key)
  }

  #read(key: string): T | undefined {
    const e = this.#live(key)
    this.#stats.read(e !== undefined, this.namespace, 'memory')
    if (e === undefined) return undefined
    this.#touch(e)
    return e.value as T
  }

  get(key: string): Promise<T | undefined> {
    try {
      this.#check('get')
      checkKey(key)
      const t0 = performance.now()
      const value = this.#read(key)
      this.#stats.latency(performance.now() - t0)
      return Promise.resolve(value)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    this.#check('set')
    const t0 = performance.now()
    this.#store(key, value, options)
    this.#stats.latency(performance.now() - t0)
  }

  async delete(key: string): Promise<boolean> {
    this.#check('delete')
    checkKey(key)
    const e = this.#live(key)
    if (e === undefined) return false
    this.#remove(e)
    this.#stats.deletes++
    return true
  }

  async has(key: string): Promise<boolean> {
    this.#check('has')
    return this.#live(checkKey(key)) !== undefined
  }

  async ttl(key: string): Promise<number | undefined> {
    this.#check('ttl')
    const e = this.#live(checkKey(key))
    return e === undefined ? undefined : e.expiresAt - this.#now()
  }

  async expire(key: string, ttl: Duration): Promise<boolean> {
    this.#check('expire')
    const ms = parseTtl(ttl)
    const e = this.#live(checkKey(key))
    if (e === undefined) return false
    e.expiresAt = this.#now() + ms
    return true
  }

  async getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    this.#check('getWithTtl')
    const value = this.#read(checkKey(key))
    if (value === undefined) return undefined
    return { value, ttl: (this.#map.get(key) as Entry).expiresAt - this.#now() }
  }

  async setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    this.#check('setIfAbsent')
    if (this.#live(checkKey(key)) !== undefined) return false
    this.#store(key, value, options)
    return true
  }

  async mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.#check('mget')
    checkList(keys, 'keys')
    return keys.map((k) => this.#read(k))
  }

  async mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    this.#check('mset')
    if (!Array.isArray(entries))
      throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
    for (const { key, value, ...own } of entries) this.#store(key, value, { ...options, ...own })
  }

  async getOrSet(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    this.#check('getOrSet')
    const hit = this.#read(checkKey(key))
    if (hit !== undefined) return hit
    const running = this.#inflight.get(key)
    if (running) return running
    checkSetOptions(options)
    const run = (async () => {
      try {
        const value = await factory({ key })
        this.#store(key, value, options)
        return value
      } finally {
        this.#inflight.delete(key)
      }
    })()
    this.#inflight.set(key, run)
    return run
  }

  #cascade(start: Iterable<string>): number {
    const queue = [...start]
    const seen = new Set<string>(queue)
    let removed = 0
    while (queue.length > 0) {
      const key = queue.shift() as string
      const e = this.#map.get(key)
      if (e) {
        if (e.expiresAt > this.#now()) removed++
        this.#remove(e)
      }
      const deps = this.#dependants.get(key)
      if (deps) {
        this.#dependants.delete(key)
        for (const d of deps) {
          if (!seen.has(d)) {
            seen.add(d)
            queue.push(d)
          }
        }
      }
    }
    this.#stats.deletes += removed
    return removed
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.#check('invalidateTags')
    checkList(tags, 'tags')
    const keys: string[] = []
    for (const t of tags) {
      const set = this.#tags.get(t)
      if (set) keys.push(...set)
    }
    const removed = this.#cascade(keys)
    publishInvalidate({ namespace: this.namespace, kind: 'tags', target: tags, removed })
    return removed
  }

  async invalidate(key: string): Promise<number> {
    this.#check('invalidate')
    const removed = this.#cascade([checkKey(key)])
    publishInvalidate({ namespace: this.namespace, kind: 'key', target: key, removed })
    return removed
  }

  async deletePattern(glob: string): Promise<number> {
    this.#check('deletePattern')
    const re = globToRegExp(glob)
    const now = this.#now()
    let removed = 0
    for (const e of [...this.#map.values()]) {
      if (re.test(e.key)) {
        if (e.expiresAt > now) removed++
        this.#remove(e)
      }
    }
    this.#stats.deletes += removed
    publishInvalidate({ namespace: this.namespace, kind: 'pattern', target: glob, removed })
    return removed
  }

  async clear(): Promise<void> {
    this.#check('clear')
    this.#map.clear()
    this.#buckets.clear()
    this.#tags.clear()
    this.#dependants.clear()
    this.#bytes = 0
    this.#minFreq = 1
    publishInvalidate({ namespace: this.namespace, kind: 'clear' })
  }

  async versions(key: string): Promise<Array<CacheVersion<T>>> {
    this.#check('versions')
    const e = this.#live(checkKey(key))
    return (e?.history ?? []).map((v) => ({ ...v })) as Array<CacheVersion<T>>
  }

  async rollback(key: string, version: number): Promise<void> {
    this.#check('rollback')
    const e = this.#live(checkKey(key))
    const found = e?.history?.find((v) => v.version === version)
    if (!e || !found) throw new VersionNotFoundError(key, version)
    const ttl = Math.max(1000, e.expiresAt - this.#now())
    const opts: SetOptions = { ttl, keepVersions: (e.history as unknown[]).length }
    if (e.tags) opts.tags = e.tags
    if (e.deps) opts.dependsOn = e.deps
    this.#store(key, found.value as T, opts)
  }

  stats(): CacheStats {
    return {
      ...this.#stats.snapshot(this.namespace),
      entries: this.#map.size,
      bytes: this.#bytes,
      evictions: this.#evictions,
    }
  }

  /** `await using x = …` closes it (same as `close()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#inflight.clear()
  }
}

/** Checks `keepVersions` (0–1000). @throws InvalidOptionError naming `keepVersions`. */
export function parseKeep(n: unknown): number {
  const r = keepSchema.safeParse(n)
  if (!r.success)
    throw new InvalidOptionError(PKG, 'keepVersions', `must be an integer from 0 to 1000, got ${String(n)}`)
  return r.data
}
