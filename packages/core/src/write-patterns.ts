import { CacheError, type Duration, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import type { Cache, SetOptions } from './cache.js'
import { PKG } from './defaults.js'

/** The system of record behind a write-through cache. */
export interface WriteThroughSource<T> {
  /** Loads a value on a cache miss (undefined when it does not exist). */
  read(key: string): Promise<T | undefined>
  /** Persists a value. */
  write(key: string, value: T): Promise<void>
  /** Removes a value. */
  remove?(key: string): Promise<void>
}

/** A cache kept in step with a source of record. */
export interface WriteThroughCache<T> {
  /** Cached value, or read from the source (once per key at a time) and cached. */
  get(key: string, options?: SetOptions): Promise<T | undefined>
  /** Writes to the source first, then the cache: the cache never holds a value the source refused. */
  set(key: string, value: T, options?: SetOptions): Promise<void>
  /** Removes from the source, then invalidates the key (and its dependants) in the cache. */
  delete(key: string): Promise<void>
}

/**
 * Write-through: every write goes to the source and then to the cache; reads are read-through.
 * @example
 * const users = writeThrough(cache, { read: (id) => db.get(id), write: (id, u) => db.put(id, u) })
 */
export function writeThrough<T>(cache: Cache<T>, source: WriteThroughSource<T>): WriteThroughCache<T> {
  const missing = Symbol('missing')
  return {
    async get(key, options) {
      const value = await cache
        .getOrSet(
          key,
          async () => {
            const loaded = await source.read(key)
            if (loaded === undefined) throw missing
            return loaded
          },
          options,
        )
        .catch((err: unknown) => {
          if (err === missing) return undefined
          throw err
        })
      return value
    },
    async set(key, value, options) {
      await source.write(key, value)
      await cache.set(key, value, options)
    },
    async delete(key) {
      await source.remove?.(key)
      await cache.invalidate(key)
    },
  }
}

/** Options of `writeBehind()`. */
export interface WriteBehindOptions {
  /** Flush when this many writes are queued. @default 100 */
  maxBatch?: number
  /** Flush at least this often. @default '1s' */
  flushInterval?: Duration
  /** Most writes held in memory; further `set()` calls wait for a flush. @default 10000 */
  maxQueue?: number
}

/** A cache that writes to its source later, in batches. */
export interface WriteBehindCache<T> {
  /** Writes to the cache now and queues the write for the source (the newest value per key wins). */
  set(key: string, value: T, options?: SetOptions): Promise<void>
  /** Writes every queued value to the source now. @throws the source's error (the batch stays queued). */
  flush(): Promise<void>
  /** Writes queued and not yet flushed. */
  readonly pending: number
  /** Stops the timer and flushes what is queued. */
  close(): Promise<void>
}

const writeBehindSchema = z
  .object({
    maxBatch: z.number().int().min(1).max(100_000).default(100),
    flushInterval: zDuration({ min: 10, max: 3_600_000 }).default(1000),
    maxQueue: z.number().int().min(1).default(10_000),
  })
  .strict()

/**
 * Write-behind: writes land in the cache at once and reach the source later in batches (by size or time),
 * newest value per key, and are flushed on `close()`. A failed batch stays queued and is retried on the
 * next flush; writes made meanwhile supersede it.
 * @example
 * const counters = writeBehind(cache, (batch) => db.bulkUpsert(batch), { maxBatch: 500, flushInterval: '2s' })
 */
export function writeBehind<T>(
  cache: Cache<T>,
  writeBatch: (entries: Array<{ key: string; value: T }>) => Promise<void>,
  options: WriteBehindOptions = {},
): WriteBehindCache<T> {
  const o = parseOptions(PKG, writeBehindSchema, options)
  let queue = new Map<string, T>()
  let flushing: Promise<void> | undefined
  let closed = false
  const timer = setInterval(() => {
    flush().catch(() => {})
  }, o.flushInterval)
  timer.unref()

  async function flushOnce(): Promise<void> {
    if (queue.size === 0) return
    const batch = queue
    queue = new Map()
    const entries = [...batch].map(([key, value]) => ({ key, value }))
    try {
      for (let i = 0; i < entries.length; i += o.maxBatch) await writeBatch(entries.slice(i, i + o.maxBatch))
    } catch (err) {
      // Keep the failed writes unless a newer value for the key arrived meanwhile.
      for (const [key, value] of batch) if (!queue.has(key)) queue.set(key, value)
      throw err
    }
  }

  function flush(): Promise<void> {
    flushing ??= flushOnce().finally(() => {
      flushing = undefined
    })
    return flushing
  }

  return {
    async set(key, value, setOptions) {
      if (closed) throw new CacheError('E_CLOSED', `[${PKG}] writeBehind: closed`)
      await cache.set(key, value, setOptions)
      while (queue.size >= o.maxQueue && !queue.has(key)) await flush()
      queue.set(key, value)
      if (queue.size >= o.maxBatch) flush().catch(() => {})
    },
    flush: async () => {
      if (flushing) await flushing.catch(() => {})
      await flush()
    },
    get pending() {
      return queue.size
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      if (flushing) await flushing.catch(() => {})
      await flush()
    },
  }
}
