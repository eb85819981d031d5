import {
  type Arg,
  type Connection,
  type Duration,
  hashSlot,
  hgetallRecord,
  InvalidOptionError,
  isCacheError,
  parseOptions,
  type ScriptFn,
  zDuration,
} from '@cache/client'
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
import { getChannel, publishInvalidate } from './channels.js'
import { type Codec, type CodecContext, defaultCodec } from './codec.js'
import { PKG, SCAN_COUNT } from './defaults.js'
import { closedError, DecodeError, EncodeError, ValueTooLargeError, VersionNotFoundError } from './errors.js'
import { type FlightHost, fly, LeaseWaiters } from './get-or-set.js'
import { globToRedis } from './glob.js'
import { CacheKeys } from './keys.js'
import { parseKeep } from './memory-cache.js'
import { ReadCoalescer } from './read-coalescer.js'
import { type RedisCacheOptions, type Resolved, schema } from './redis-cache-options.js'
import * as lua from './scripts/index.js'
import { inSlices, mapSlices } from './slices.js'
import { StatsRecorder } from './stats.js'
import { checkKey, checkList, checkSetOptions, parseTtl } from './ttl.js'

/** Options of `new RedisCache(conn, options)`. */

/**
 * A cache in Redis (standalone, Sentinel or Cluster) on an `@cache/client` Connection. One GET per read
 * (same-tick reads are coalesced into MGET), stampede-safe `getOrSet` across processes, tags, dependencies,
 * pattern deletion with SCAN on every master, and bounded version history.
 * @example
 * const conn = await connect('redis://127.0.0.1:6379')
 * const cache = new RedisCache(conn, { namespace: 'app', defaultTtl: '10m' })
 * const user = await cache.getOrSet('user:42', () => db.loadUser(42), { tags: ['users'] })
 */
export class RedisCache<T = unknown> implements Cache<T> {
  readonly namespace: string
  /** The resolved options. */
  readonly options: Readonly<Resolved>
  readonly #conn: Connection
  readonly #keys: CacheKeys
  readonly #codec: Codec
  readonly #cluster: boolean
  readonly #reader: ReadCoalescer<T>
  readonly #stats = new StatsRecorder()
  readonly #flights = new Map<string, Promise<T>>()
  readonly #waiters: LeaseWaiters
  readonly #scripts: {
    indexAdd: ScriptFn<number>
    indexPop: ScriptFn<string[]>
    invalidate: ScriptFn<[number, string[]]>
    getWithTtl: ScriptFn<[Buffer | null, number]>
    setVersioned: ScriptFn<number>
    statsAdd: ScriptFn<number>
  }
  #statsTimer: NodeJS.Timeout | undefined
  #flushed = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 }
  #closed = false

  constructor(conn: Connection, options: RedisCacheOptions = {}) {
    const o = parseOptions(PKG, schema, options)
    this.options = o
    this.namespace = o.namespace
    this.#conn = conn
    this.#keys = new CacheKeys(conn.keys.child(o.namespace))
    this.#waiters = new LeaseWaiters(conn, this.#keys.channel)
    this.#codec = o.codec ?? defaultCodec
    this.#cluster = conn.topology === 'cluster'
    this.#reader = new ReadCoalescer<T>(conn, {
      coalesce: o.coalesce,
      maxBatch: o.coalesceMaxBatch,
      settle: (key, raw, count) => this.#settle(key, raw, count),
      fail: (err) => this.#fail(err),
      latency: (ms) => this.#stats.latency(ms),
    })
    this.#scripts = {
      indexAdd: conn.defineScript('core:index-add', lua.indexAdd, { keys: 1 }),
      indexPop: conn.defineScript('core:index-pop', lua.indexPop, { keys: 1 }),
      invalidate: conn.defineScript('core:invalidate', lua.invalidate, { keys: 3 }),
      getWithTtl: conn.defineScript('core:get-with-ttl', lua.getWithTtl, { keys: 1, buffers: true }),
      setVersioned: conn.defineScript('core:set-versioned', lua.setVersioned, { keys: 2 }),
      statsAdd: conn.defineScript('core:stats-add', lua.statsAdd, { keys: 1 }),
    }
    if (o.sharedStats) {
      this.#statsTimer = setInterval(() => {
        this.flushStats().catch(() => {})
      }, o.statsFlushInterval)
      this.#statsTimer.unref()
    }
  }

  /** The key builder of this cache (its whole Redis key layout), for packages layered on it. */
  get keys(): CacheKeys {
    return this.#keys
  }

  /** The Redis key that holds `key`'s value (for inspection and tests). */
  redisKey(key: string): string {
    return this.#keys.value(checkKey(key))
  }

  #check(op: string): void {
    if (this.#closed) throw closedError(op)
  }

  #fail<E>(err: E): E {
    this.#stats.errors++
    return err
  }

  /** The full Redis key for a codec that binds values to it (none for the default codec: nothing to pay). */
  #codecContext(key: string): CodecContext | undefined {
    return this.#codec === defaultCodec ? undefined : { key: this.#keys.value(key) }
  }

  #decode(key: string, raw: Buffer | null): T | undefined {
    if (raw === null || raw === undefined) return undefined
    try {
      return this.#codec.decode(raw, this.#codecContext(key)) as T
    } catch (err) {
      // Typed codec errors of the family (E_DECRYPT, E_KEY_NOT_FOUND…) keep their code; they carry no value.
      if (isCacheError(err) && err.code !== 'E_DECODE') throw err
      // A custom codec's own message may quote the payload: keep only its error name.
      throw new DecodeError(
        isCacheError(err)
          ? err.message.replace(/^.*?: /, '')
          : `the codec threw ${(err as Error)?.name ?? typeof err}`,
        { key },
      )
    }
  }

  #encode(key: string, value: T): Buffer {
    if (value === undefined)
      throw new EncodeError('undefined cannot be cached (a miss reads as undefined)', { key })
    let bytes: Buffer
    try {
      bytes = this.#codec.encode(value, this.#codecContext(key))
    } catch (err) {
      if (isCacheError(err, 'E_ENCODE'))
        throw new EncodeError(err.message.replace(/^.*?: /, ''), { key, cause: err })
      throw new EncodeError(String(err), { key, cause: err })
    }
    if (bytes.length > this.options.maxValueBytes) {
      throw new ValueTooLargeError(key, bytes.length, this.options.maxValueBytes)
    }
    return bytes
  }

  #ttl(options: SetOptions | undefined): number {
    return options?.ttl === undefined ? this.options.defaultTtl : parseTtl(options.ttl)
  }

  // ---- reads ---------------------------------------------------------------------------------------

  get(key: string): Promise<T | undefined> {
    if (this.#closed) return Promise.reject(closedError('get'))
    let rk: string
    try {
      rk = this.#keys.value(checkKey(key))
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#reader.read(key, rk)
  }

  #settle(key: string, raw: Buffer | null, count = true): T | undefined {
    let value: T | undefined
    try {
      value = this.#decode(key, raw)
    } catch (err) {
      throw this.#fail(err)
    }
    if (!count) return value
    if (value === undefined) this.#stats.misses++
    else this.#stats.hits++
    if (getChannel.hasSubscribers)
      getChannel.publish({
        namespace: this.namespace,
        tier: 'redis',
        outcome: value === undefined ? 'miss' : 'hit',
      })
    return value
  }

  async mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.#check('mget')
    checkList(keys, 'keys')
    if (keys.length === 0) return []
    const t0 = performance.now()
    const rks = keys.map((k) => this.#keys.value(k))
    const raws: Array<Buffer | null> = new Array(keys.length).fill(null)
    const groups = new Map<number, number[]>()
    if (this.#cluster) {
      for (let i = 0; i < rks.length; i++) {
        const slot = hashSlot(rks[i] as string)
        const g = groups.get(slot)
        if (g) g.push(i)
        else groups.set(slot, [i])
      }
    } else
      groups.set(
        0,
        rks.map((_, i) => i),
      )
    try {
      await inSlices([...groups.values()], async (idx) => {
        const reply = await this.#conn.send<Array<Buffer | null>>(
          ['MGET', ...idx.map((i) => rks[i] as string)],
          {
            key: rks[idx[0] as number],
            buffers: true,
          },
        )
        for (let j = 0; j < idx.length; j++) raws[idx[j] as number] = reply[j] ?? null
      })
    } catch (err) {
      throw this.#fail(err)
    }
    const out = keys.map((k, i) => this.#settle(k, raws[i] ?? null))
    this.#stats.latency(performance.now() - t0)
    return out
  }

  async has(key: string): Promise<boolean> {
    this.#check('has')
    const rk = this.#keys.value(checkKey(key))
    return (await this.#send<number>(['EXISTS', rk], rk)) === 1
  }

  async ttl(key: string): Promise<number | undefined> {
    this.#check('ttl')
    const rk = this.#keys.value(checkKey(key))
    const ms = await this.#send<number>(['PTTL', rk], rk)
    if (ms === -2) return undefined
    return ms < 0 ? Number.POSITIVE_INFINITY : ms
  }

  async getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    this.#check('getWithTtl')
    const rk = this.#keys.value(checkKey(key))
    const t0 = performance.now()
    let reply: [Buffer | null, number]
    try {
      reply = await this.#scripts.getWithTtl([rk])
    } catch (err) {
      throw this.#fail(err)
    }
    const value = this.#settle(key, reply[0])
    this.#stats.latency(performance.now() - t0)
    if (value === undefined) return undefined
    return { value, ttl: reply[1] < 0 ? Number.POSITIVE_INFINITY : reply[1] }
  }

  async #send<R>(args: Arg[], key: string, buffers = false): Promise<R> {
    try {
      return await this.#conn.send<R>(args, { key, buffers })
    } catch (err) {
      throw this.#fail(err)
    }
  }

  // ---- writes --------------------------------------------------------------------------------------

  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    this.#check('set')
    const t0 = performance.now()
    await this.#write(key, value, options, false)
    this.#stats.latency(performance.now() - t0)
  }

  async setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    this.#check('setIfAbsent')
    return this.#write(key, value, options, true)
  }

  /** Validates everything, encodes, indexes tags/dependencies, then stores. */
  async #write(key: string, value: T, options: SetOptions | undefined, nx: boolean): Promise<boolean> {
    checkKey(key)
    const ttl = this.#ttl(options)
    const tags = options?.tags ? checkList(options.tags, 'tags') : undefined
    const deps = options?.dependsOn ? checkList(options.dependsOn, 'dependsOn') : undefined
    const keep = options?.keepVersions === undefined ? 0 : parseKeep(options.keepVersions)
    const bytes = this.#encode(key, value)
    const part = this.#keys.part(key)
    const rk = this.#keys.valueOf(part)
    const indexes: string[] = []
    if (tags) for (const t of new Set(tags)) indexes.push(this.#keys.tag(t))
    if (deps) for (const d of new Set(deps)) indexes.push(this.#keys.dependants(this.#keys.part(d)))
    // Store first, index second. An invalidation that pops an index between the two cannot lose this key:
    // it is added to the (new) index afterwards, so the next invalidation finds it. Indexing first could
    // leave a live value missing from its index if the pop fell between the index write and the store.
    try {
      let stored = true
      if (keep > 0 && !nx) {
        await this.#scripts.setVersioned([rk, this.#keys.history(part)], [bytes, ttl, keep, Date.now()])
      } else {
        const args: Arg[] = ['SET', rk, bytes, 'PX', String(ttl)]
        if (nx) args.push('NX')
        stored = (await this.#conn.send<string | null>(args, { key: rk })) === 'OK'
        if (stored && nx && keep > 0) {
          await this.#scripts.setVersioned([rk, this.#keys.history(part)], [bytes, ttl, keep, Date.now()])
        }
      }
      if (stored && indexes.length > 0) {
        await Promise.all(indexes.map((ix) => this.#scripts.indexAdd([ix], [String(ttl), rk])))
      }
      if (stored) this.#stats.sets++
      return stored
    } catch (err) {
      throw this.#fail(err)
    }
  }

  async mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    this.#check('mset')
    if (!Array.isArray(entries))
      throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
    const t0 = performance.now()
    // Validate and encode everything first: a bad entry stores nothing.
    for (const e of entries) {
      checkKey(e?.key)
      this.#encode(e.key, e.value)
    }
    await inSlices(entries, ({ key, value, ...own }) =>
      this.#write(key, value, { ...options, ...own }, false),
    )
    this.#stats.latency(performance.now() - t0)
  }

  async expire(key: string, ttl: Duration): Promise<boolean> {
    this.#check('expire')
    const ms = parseTtl(ttl)
    const rk = this.#keys.value(checkKey(key))
    return (await this.#send<number>(['PEXPIRE', rk, String(ms)], rk)) === 1
  }

  async delete(key: string): Promise<boolean> {
    this.#check('delete')
    const part = this.#keys.part(checkKey(key))
    const rk = this.#keys.valueOf(part)
    const [n] = await Promise.all([
      this.#send<number>(['DEL', rk], rk),
      this.#send<number>(['DEL', this.#keys.history(part)], rk),
    ])
    if (n > 0) this.#stats.deletes++
    return n > 0
  }

  // ---- invalidation --------------------------------------------------------------------------------

  /**
   * Removes entries by escaped part and, level by level, everything depending on them; returns how many
   * values existed and every escaped part it visited.
   */
  async #cascade(parts: Iterable<string>): Promise<{ removed: number; parts: string[] }> {
    const seen = new Set<string>(parts)
    let level = [...seen]
    let removed = 0
    while (level.length > 0) {
      const replies = await mapSlices(level, (p) =>
        this.#scripts.invalidate([this.#keys.valueOf(p), this.#keys.history(p), this.#keys.dependants(p)]),
      )
      const next: string[] = []
      for (const [existed, dependants] of replies) {
        removed += Number(existed)
        for (const rk of dependants) {
          const p = this.#keys.partOf(String(rk))
          if (p !== undefined && !seen.has(p)) {
            seen.add(p)
            next.push(p)
          }
        }
      }
      level = next
    }
    this.#stats.deletes += removed
    return { removed, parts: [...seen] }
  }

  async invalidate(key: string): Promise<number> {
    return (await this.invalidateDetailed(key)).removed
  }

  /**
   * `invalidate()`, also naming the escaped key parts (`encodeKeyPart`) it removed — the key and its
   * dependants at every level — so that a tier above (the tiered cache's L1) drops exactly those entries.
   */
  async invalidateDetailed(key: string): Promise<{ removed: number; parts: string[] }> {
    this.#check('invalidate')
    try {
      const result = await this.#cascade([this.#keys.part(checkKey(key))])
      publishInvalidate({ namespace: this.namespace, kind: 'key', target: key, removed: result.removed })
      return result
    } catch (err) {
      throw isCacheError(err, 'E_INVALID_OPTION') ? err : this.#fail(err)
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    return (await this.invalidateTagsDetailed(tags)).removed
  }

  /** `invalidateTags()`, also naming the escaped key parts it removed (tagged keys and their dependants). */
  async invalidateTagsDetailed(tags: readonly string[]): Promise<{ removed: number; parts: string[] }> {
    this.#check('invalidateTags')
    checkList(tags, 'tags')
    try {
      const members = await mapSlices([...new Set(tags)], (t) => this.#scripts.indexPop([this.#keys.tag(t)]))
      const parts = new Set<string>()
      for (const list of members) {
        for (const rk of list) {
          const p = this.#keys.partOf(String(rk))
          if (p !== undefined) parts.add(p)
        }
      }
      const result = await this.#cascade(parts)
      publishInvalidate({ namespace: this.namespace, kind: 'tags', target: tags, removed: result.removed })
      return result
    } catch (err) {
      throw this.#fail(err)
    }
  }

  async deletePattern(glob: string): Promise<number> {
    this.#check('deletePattern')
    const match = this.#keys.valuePattern(globToRedis(glob))
    let removed = 0
    try {
      for await (const batch of this.#conn.scan(match, { count: SCAN_COUNT })) {
        // The value and its history share a slot: one UNLINK removes both.
        const counts = await mapSlices(batch, (rk) =>
          this.#conn.send<number>(['UNLINK', rk, this.#keys.history(this.#keys.partOf(rk) as string)], {
            key: rk,
          }),
        )
        for (const n of counts) if (n > 0) removed++
      }
    } catch (err) {
      throw this.#fail(err)
    }
    this.#stats.deletes += removed
    publishInvalidate({ namespace: this.namespace, kind: 'pattern', target: glob, removed })
    return removed
  }

  async clear(): Promise<void> {
    this.#check('clear')
    try {
      for await (const batch of this.#conn.scan(this.#keys.all, { count: SCAN_COUNT })) {
        await inSlices(batch, (k) => this.#conn.send(['UNLINK', k], { key: k }))
      }
    } catch (err) {
      throw this.#fail(err)
    }
    publishInvalidate({ namespace: this.namespace, kind: 'clear' })
  }

  // ---- versions ------------------------------------------------------------------------------------

  async versions(key: string): Promise<Array<CacheVersion<T>>> {
    this.#check('versions')
    const part = this.#keys.part(checkKey(key))
    const raw = await this.#send<Buffer[]>(
      ['LRANGE', this.#keys.history(part), '0', '-1'],
      this.#keys.valueOf(part),
      true,
    )
    return raw.map((entry) => {
      const a = entry.indexOf(0x7c)
      const b = entry.indexOf(0x7c, a + 1)
      if (a < 0 || b < 0) throw this.#fail(new DecodeError('malformed history entry', { key }))
      return {
        version: Number(entry.subarray(0, a).toString()),
        createdAt: Number(entry.subarray(a + 1, b).toString()),
        value: this.#decode(key, entry.subarray(b + 1)) as T,
      }
    })
  }

  async rollback(key: string, version: number): Promise<void> {
    this.#check('rollback')
    const history = await this.versions(key)
    const found = history.find((v) => v.version === version)
    if (!found) throw new VersionNotFoundError(key, version)
    const left = await this.ttl(key)
    const ttl = left === undefined || !Number.isFinite(left) ? this.options.defaultTtl : Math.max(1000, left)
    await this.#write(key, found.value, { ttl, keepVersions: history.length }, false)
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
      const host: FlightHost<T> = {
        conn: this.#conn,
        keys: this.#keys,
        leasePoll: this.options.leasePoll,
        check: (op) => this.#check(op),
        // Re-reads inside the flight are not hits or misses of their own: the call's first read counted.
        get: (k) => this.#reader.read(k, this.#keys.value(k), false),
        store: async (k, value) => {
          await this.#write(k, value, options, false)
        },
        fail: (err) => this.#fail(err),
      }
      flight = fly(host, this.#waiters, key, factory, leaseMs).finally(() => this.#flights.delete(key))
      this.#flights.set(key, flight)
    }
    return flight
  }

  // ---- stats ---------------------------------------------------------------------------------------

  stats(): CacheStats {
    return this.#stats.snapshot(this.namespace)
  }

  /** Adds the counters accumulated since the last flush to the shared hash in Redis. */
  async flushStats(): Promise<void> {
    const s = this.#stats
    const delta = {
      hits: s.hits - this.#flushed.hits,
      misses: s.misses - this.#flushed.misses,
      sets: s.sets - this.#flushed.sets,
      deletes: s.deletes - this.#flushed.deletes,
      errors: s.errors - this.#flushed.errors,
    }
    const fields = Object.entries(delta).filter(([, n]) => n !== 0)
    if (fields.length === 0) return
    this.#flushed = { hits: s.hits, misses: s.misses, sets: s.sets, deletes: s.deletes, errors: s.errors }
    await this.#scripts.statsAdd([this.#keys.stats], fields.flat())
  }

  /** Counters of every process sharing this namespace (flushes this process's first). */
  async sharedStats(): Promise<
    Pick<CacheStats, 'namespace' | 'hits' | 'misses' | 'sets' | 'deletes' | 'errors' | 'hitRatio'>
  > {
    this.#check('sharedStats')
    await this.flushStats()
    const key = this.#keys.stats
    const map = hgetallRecord<string>(await this.#send(['HGETALL', key], key))
    const n = (f: string) => Number(map[f] ?? 0)
    const reads = n('hits') + n('misses')
    return {
      namespace: this.namespace,
      hits: n('hits'),
      misses: n('misses'),
      sets: n('sets'),
      deletes: n('deletes'),
      errors: n('errors'),
      hitRatio: reads === 0 ? 0 : n('hits') / reads,
    }
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
