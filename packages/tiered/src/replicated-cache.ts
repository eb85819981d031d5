import { EventEmitter } from 'node:events'
import { type Duration, InvalidOptionError, parseOptions } from '@cache/client'
import {
  type Cache,
  type CacheStats,
  type CacheVersion,
  type Factory,
  type GetOrSetOptions,
  MIN_TTL_MS,
  type MsetEntry,
  type SetOptions,
  type ValueWithTtl,
} from '@cache/core'
import { z } from 'zod'
import { PKG } from './defaults.js'

/** One remote region: a name (for events and stats) and its cache. */
export interface Region<T = unknown> {
  name: string
  cache: Cache<T>
}

/** Options of `new ReplicatedCache()`. */
export interface ReplicatedCacheOptions<T = unknown> {
  /** This region's cache: every read and the awaited part of every write. */
  local: Cache<T>
  /** Other regions: writes and invalidations reach them asynchronously, in order, per region. */
  regions: ReadonlyArray<Region<T>>
  /** Most operations waiting for one region; past it the oldest are dropped (and reported). @default 10000 */
  maxQueue?: number
}

/** Replication counters per region. */
export interface RegionStats {
  applied: number
  failed: number
  dropped: number
  queued: number
}

const schema = z
  .object({
    local: z.custom<Cache>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Cache).get === 'function',
      'must be a Cache',
    ),
    regions: z.array(
      z
        .object({
          name: z.string().min(1, 'must be a non-empty string'),
          cache: z.custom<Cache>(
            (v) => typeof v === 'object' && v !== null && typeof (v as Cache).set === 'function',
            'must be a Cache',
          ),
        })
        .strict(),
    ),
    maxQueue: z.number().int().min(1).default(10_000),
  })
  .strict()

type Op<T> = (cache: Cache<T>) => Promise<unknown>

interface Lane<T> {
  name: string
  cache: Cache<T>
  queue: Array<Op<T>>
  running: boolean
  stats: RegionStats
  idle: Array<() => void>
}

/**
 * Replicated mode over several independent deployments (regions). Reads are served by the local region.
 * Writes and invalidations are applied to the local region first (awaited: read-your-writes here), then
 * queued for every other region and applied there asynchronously, one at a time and in order per region.
 *
 * Consistency model: eventual. A remote region sees this region's writes in the order they were made,
 * after a replication delay; a failed remote operation is reported (`replication-error`) and not retried;
 * concurrent writes of one key from two regions may leave the regions with different values until the
 * next write or expiry (last applied wins per region). Use one writing region per key for convergence.
 *
 * Events: `replication-error` ({ region, error }), `dropped` ({ region }).
 */
export class ReplicatedCache<T = unknown> extends EventEmitter implements Cache<T> {
  readonly namespace: string
  readonly #local: Cache<T>
  readonly #lanes: Array<Lane<T>>
  readonly #maxQueue: number
  #closing: Promise<void> | undefined

  constructor(options: ReplicatedCacheOptions<T>) {
    super()
    const o = parseOptions(PKG, schema, options)
    const names = new Set<string>()
    o.regions.forEach((r, i) => {
      if (names.has(r.name))
        throw new InvalidOptionError(PKG, `regions.${i}.name`, `"${r.name}" is used twice`)
      names.add(r.name)
    })
    this.#local = o.local as Cache<T>
    this.namespace = this.#local.namespace
    this.#maxQueue = o.maxQueue
    this.#lanes = o.regions.map((r) => ({
      name: r.name,
      cache: r.cache as Cache<T>,
      queue: [],
      running: false,
      stats: { applied: 0, failed: 0, dropped: 0, queued: 0 },
      idle: [],
    }))
  }

  #replicate(op: Op<T>): void {
    for (const lane of this.#lanes) {
      lane.queue.push(op)
      if (lane.queue.length > this.#maxQueue) {
        lane.queue.shift()
        lane.stats.dropped++
        if (this.listenerCount('dropped') > 0) this.emit('dropped', { region: lane.name })
      }
      lane.stats.queued = lane.queue.length
      if (!lane.running) void this.#drain(lane)
    }
  }

  async #drain(lane: Lane<T>): Promise<void> {
    lane.running = true
    while (lane.queue.length > 0) {
      const op = lane.queue.shift() as Op<T>
      lane.stats.queued = lane.queue.length
      try {
        await op(lane.cache)
        lane.stats.applied++
      } catch (error) {
        lane.stats.failed++
        if (this.listenerCount('replication-error') > 0)
          this.emit('replication-error', { region: lane.name, error })
      }
    }
    lane.running = false
    for (const resolve of lane.idle.splice(0)) resolve()
  }

  /** Resolves when every region has applied everything queued so far. */
  async flush(): Promise<void> {
    await Promise.all(
      this.#lanes.map((lane) =>
        lane.running || lane.queue.length > 0 ? new Promise<void>((r) => lane.idle.push(r)) : undefined,
      ),
    )
  }

  /** Replication counters per region. */
  regionStats(): Record<string, RegionStats> {
    return Object.fromEntries(this.#lanes.map((l) => [l.name, { ...l.stats }]))
  }

  get(key: string): Promise<T | undefined> {
    return this.#local.get(key)
  }
  has(key: string): Promise<boolean> {
    return this.#local.has(key)
  }
  ttl(key: string): Promise<number | undefined> {
    return this.#local.ttl(key)
  }
  getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    return this.#local.getWithTtl(key)
  }
  mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#local.mget(keys)
  }
  versions(key: string): Promise<Array<CacheVersion<T>>> {
    return this.#local.versions(key)
  }

  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    await this.#local.set(key, value, options)
    this.#replicate((c) => c.set(key, value, options))
  }
  async setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    const stored = await this.#local.setIfAbsent(key, value, options)
    if (stored) this.#replicate((c) => c.set(key, value, options))
    return stored
  }
  async mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    await this.#local.mset(entries, options)
    const copy = [...entries]
    this.#replicate((c) => c.mset(copy, options))
  }
  async expire(key: string, ttl: Duration): Promise<boolean> {
    const ok = await this.#local.expire(key, ttl)
    if (ok) this.#replicate((c) => c.expire(key, ttl))
    return ok
  }
  async delete(key: string): Promise<boolean> {
    const existed = await this.#local.delete(key)
    this.#replicate((c) => c.delete(key))
    return existed
  }
  async getOrSet(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    let computed = false
    const value = await this.#local.getOrSet(
      key,
      async (ctx) => {
        computed = true
        return factory(ctx)
      },
      options,
    )
    if (computed) this.#replicate((c) => c.set(key, value, options))
    return value
  }
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const n = await this.#local.invalidateTags(tags)
    this.#replicate((c) => c.invalidateTags(tags))
    return n
  }
  async invalidate(key: string): Promise<number> {
    const n = await this.#local.invalidate(key)
    this.#replicate((c) => c.invalidate(key))
    return n
  }
  async deletePattern(glob: string): Promise<number> {
    const n = await this.#local.deletePattern(glob)
    this.#replicate((c) => c.deletePattern(glob))
    return n
  }
  async clear(): Promise<void> {
    await this.#local.clear()
    this.#replicate((c) => c.clear())
  }
  async rollback(key: string, version: number): Promise<void> {
    await this.#local.rollback(key, version)
    const restored = await this.#local.getWithTtl(key)
    if (restored)
      this.#replicate((c) => c.set(key, restored.value, { ttl: Math.max(MIN_TTL_MS, restored.ttl) }))
  }

  /** The local region's stats. */
  stats(): CacheStats {
    return this.#local.stats()
  }

  /** Waits for queued replication, then closes the local cache and every region. Idempotent. */
  /** Flushes pending replication, then closes the local cache and every region. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush()
      await Promise.all([this.#local.close(), ...this.#lanes.map((l) => l.cache.close())])
    })()
    return this.#closing
  }

  /** `await using cache = …` closes the cache. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
