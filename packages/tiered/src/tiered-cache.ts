import diagnostics from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import {
  CacheError,
  type Connection,
  type Duration,
  encodeKeyPart,
  InvalidOptionError,
  isCacheError,
  parseOptions,
  zDuration,
} from '@cache/client'
import {
  type Cache,
  type CacheStats,
  type CacheVersion,
  checkKey,
  EncodeError,
  type FactoryContext,
  globToRegExp,
  MAX_TTL_MS,
  type MsetEntry,
  parseTtl,
  RedisCache,
  type SetOptions,
  type ValueWithTtl,
  VersionNotFoundError,
} from '@cache/core'
import {
  BusCoherence,
  type Coherence,
  type CoherenceHandlers,
  NoCoherence,
  TrackingCoherence,
} from './coherence.js'
import { PKG, REFRESH_LEASE_MS } from './defaults.js'
import { closedError, FactoryTimeoutError } from './errors.js'
import { TieredKeys } from './keys.js'
import { L1Store } from './l1.js'
import {
  type CoherenceMode,
  callSchema,
  optionsSchema,
  type ResolvedTieredOptions,
  type TieredCacheOptions,
  type TieredGetOrSetOptions,
} from './options.js'

/** What a tiered getOrSet factory receives. */
export interface TieredFactoryContext extends FactoryContext {
  /** Aborted when the hard timeout fires (or the cache closes). */
  signal: AbortSignal
  /** The stale value being refreshed, if any. */
  stale: unknown
}

/** A read-through factory of the tiered cache. */
export type TieredFactory<T> = (ctx: TieredFactoryContext) => T | Promise<T>

/** Hit/miss counters of one tier. */
export interface TierCounters {
  hits: number
  misses: number
  /** hits / (hits + misses), 0 when nothing was read. */
  hitRatio: number
}

/** Per-tier analytics of a TieredCache (`tierStats()`). */
export interface TierStats {
  l1: TierCounters & { entries: number; bytes: number; evictions: number }
  l2: TierCounters & { errors: number }
  l3: (TierCounters & { errors: number }) | undefined
  /** Factory calls made by this process. */
  factoryCalls: number
  /** getOrSet calls answered without calling the factory here (hits, shared flights, other processes' work). */
  factoryCallsSaved: number
  /** Estimated bytes of the values returned (sizes as estimated for L1). */
  bytesServed: number
  /** Stale values served (grace, soft timeout, fail-safe). */
  staleServed: number
  /** Invalidation messages received (tracking or bus). */
  invalidationsReceived: number
  /** Writes queued while Redis was unavailable and not yet replayed. */
  offlineWritesQueued: number
  /** True while L1 is trusted (coherence established). */
  coherent: boolean
}

/** Options of `warm()`. */
export interface WarmOptions {
  /** Loaders run at once. @default 8 */
  concurrency?: number
  /** Called after each key with the running totals. */
  onProgress?: (progress: { done: number; total: number; failed: number; key: string }) => void
  /** TTL of the warmed entries. */
  ttl?: Duration
}

/** One entry of `warm()`: a key and the loader of its value. */
export interface WarmLoader<T> {
  key: string
  load: () => T | Promise<T>
}

/** The value stored in L2/L3: [value, logical expiry (ms since epoch), ttl (ms)]. */
type Envelope = [unknown, number, number]

interface Found {
  value: unknown
  exp: number
  ttl: number
}

interface Flight {
  /** An invalidation for the key arrived while an operation on it was in flight. */
  dirty: boolean
  n: number
}

interface CallOptions {
  grace: number
  soft: number
  hard: number
  eager: number
  failSafe: boolean
}

type OfflineWrite = { kind: 'set'; env: Envelope; options: SetOptions } | { kind: 'delete' }

const channels = {
  failSafe: diagnostics.channel('cache:tiered:fail-safe'),
  coherence: diagnostics.channel('cache:tiered:coherence'),
  refreshError: diagnostics.channel('cache:tiered:refresh-error'),
  offline: diagnostics.channel('cache:tiered:offline-write'),
}

function isEnvelope(raw: unknown): raw is Envelope {
  return Array.isArray(raw) && raw.length === 3 && typeof raw[1] === 'number' && typeof raw[2] === 'number'
}

/** True when `err` means Redis could not be reached (breaker open, timeout, connection lost, closed client). */
export function isUnavailable(err: unknown): err is CacheError {
  return isCacheError(err, 'E_UNAVAILABLE') || isCacheError(err, 'E_TIMEOUT')
}

const counters = (hits: number, misses: number): TierCounters => ({
  hits,
  misses,
  hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
})

/**
 * A three-tier cache: L1 in process memory, L2 in Redis (a @cache/core RedisCache), optional L3 (any
 * Cache). Implements the @cache/core `Cache` contract. L1 stays coherent across processes through CLIENT
 * TRACKING or a pub/sub bus; getOrSet adds grace (stale-while-revalidate), fail-safe, soft and hard factory
 * timeouts and eager refresh; Redis outages are absorbed by L1 (see docs/tiered-cache.md).
 *
 * Events: `fail-safe` ({ key, reason }), `coherence` ({ trusted }), `refresh-error` ({ key, error }),
 * `offline-write` ({ key, dropped }), `replayed` ({ count }), `invalidate` ({ parts }, only when listened
 * to), `problem` (a non-fatal CacheError or Error).
 */
export class TieredCache<T = unknown> extends EventEmitter implements Cache<T> {
  readonly namespace: string
  /** The resolved options. */
  readonly options: Readonly<ResolvedTieredOptions>
  /** Resolves once the coherence mechanism is established (L1 is trusted from then on). */
  readonly ready: Promise<void>
  /** The coherence mode. */
  readonly coherence: CoherenceMode
  readonly #conn: Connection
  readonly #l1: L1Store
  readonly #l2: RedisCache<unknown>
  readonly #l3: Cache<unknown> | undefined
  readonly #keys: TieredKeys
  readonly #co: Coherence
  readonly #now: () => number
  readonly #l1Ttl: number
  readonly #eager: number
  readonly #defaults: CallOptions
  readonly #inflight = new Map<string, Flight>()
  readonly #flights = new Map<string, Promise<unknown>>()
  readonly #offline = new Map<string, OfflineWrite>()
  readonly #aborts = new Set<AbortController>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #offlineTimer: NodeJS.Timeout | undefined
  #replaying = false
  #trusted = false
  #gen = 0
  #closed = false
  #s = {
    l1Hits: 0,
    l1Misses: 0,
    l2Hits: 0,
    l2Misses: 0,
    l2Errors: 0,
    l3Hits: 0,
    l3Misses: 0,
    l3Errors: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
    factoryCalls: 0,
    saved: 0,
    bytes: 0,
    stale: 0,
    invalidations: 0,
  }
  readonly #latency = new Float64Array(1024)
  #latencyCount = 0

  constructor(options: TieredCacheOptions) {
    super()
    const o = parseOptions(PKG, optionsSchema, options)
    this.options = o
    this.namespace = o.namespace
    this.coherence = o.coherence
    this.#conn = o.connection
    this.#now = o.now ?? Date.now
    this.#l1Ttl = o.l1.ttl
    this.#eager = o.eagerRefresh
    this.#defaults = {
      grace: o.grace,
      soft: o.timeouts.soft,
      hard: o.timeouts.hard,
      eager: o.eagerRefresh,
      failSafe: o.failSafe,
    }
    this.#l1 = new L1Store(o.l1.maxEntries, o.l1.maxBytes)
    this.#l2 = new RedisCache<unknown>(o.connection, {
      namespace: o.namespace,
      defaultTtl: o.defaultTtl,
      ...(o.codec ? { codec: o.codec } : {}),
    })
    this.#l3 = o.l3
    const handlers: CoherenceHandlers = {
      invalidate: (parts) => this.#invalidated(parts),
      flush: () => this.#flushL1(),
      trust: (trusted) => this.#setTrusted(trusted),
      problem: (err) => {
        if (this.listenerCount('problem') > 0) this.emit('problem', err)
      },
    }
    this.#keys = new TieredKeys(this.#l2)
    this.#co =
      o.coherence === 'tracking'
        ? new TrackingCoherence(o.connection, this.#keys.valuePrefix, handlers)
        : o.coherence === 'bus'
          ? new BusCoherence(o.connection, `${o.connection.keys.namespace}:${o.namespace}`, handlers)
          : new NoCoherence(handlers)
    this.ready = this.#co.start()
    // Until ready, L1 is simply not trusted; the rejection is reported through `problem`.
    this.ready.catch(() => {})
  }

  // ---- coherence ----------------------------------------------------------------------------------

  #invalidated(parts: readonly string[]): void {
    this.#s.invalidations++
    for (const p of parts) {
      const f = this.#inflight.get(p)
      if (f) f.dirty = true
      this.#l1.deletePart(p)
    }
    if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { parts })
  }

  #flushL1(): void {
    this.#s.invalidations++
    this.#l1.clear()
    for (const f of this.#inflight.values()) f.dirty = true
    if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { parts: 'all' })
  }

  #setTrusted(trusted: boolean): void {
    if (trusted === this.#trusted) return
    this.#trusted = trusted
    // Entries of an older generation are no longer served as fresh: at most as a fail-safe fallback.
    this.#gen++
    for (const f of this.#inflight.values()) f.dirty = true
    this.#event('coherence', channels.coherence, { trusted })
    if (trusted) this.#replay()
  }

  #event(name: string, channel: diagnostics.Channel, payload: Record<string, unknown>): void {
    if (channel.hasSubscribers) channel.publish({ namespace: this.namespace, ...payload })
    if (this.listenerCount(name) > 0) this.emit(name, payload)
  }

  #track(part: string): Flight {
    let f = this.#inflight.get(part)
    if (f) {
      f.n++
      // Several overlapping operations share one flag; a later one must not clear an earlier invalidation.
      return f
    }
    f = { dirty: false, n: 1 }
    this.#inflight.set(part, f)
    return f
  }

  /**
   * After our own write was acknowledged: with the bus, keep its value in L1 unless an invalidation for
   * the key arrived meanwhile. With tracking, drop it: BCAST echoes our own writes, and the server sends
   * one deduplicated message per key per event-loop cycle, so an echo cannot be told apart from a newer
   * write by another client made in the same cycle (a counting scheme we tried served stale values under
   * a write/write race). The next read refills L1 from L2.
   */
  #keepOwnWrite(key: string, part: string, found: Found, grace: number, flight: Flight): void {
    if (flight.dirty || this.#co.mode === 'tracking') this.#l1.delete(key)
    else this.#fill(key, part, found, grace)
  }

  #untrack(part: string, f: Flight): void {
    if (--f.n === 0 && this.#inflight.get(part) === f) this.#inflight.delete(part)
  }

  // ---- helpers ------------------------------------------------------------------------------------

  #check(op: string): void {
    if (this.#closed) throw closedError(op)
  }

  #fail<E>(err: E): E {
    this.#s.errors++
    return err
  }

  #latencyOf(t0: number): void {
    this.#latency[this.#latencyCount++ % this.#latency.length] = performance.now() - t0
  }

  #ttl(options: { ttl?: Duration } | undefined): number {
    return options?.ttl === undefined ? this.options.defaultTtl : parseTtl(options.ttl)
  }

  #call(options: TieredGetOrSetOptions | undefined): CallOptions {
    if (options === undefined) return this.#defaults
    const c = parseOptions(PKG, callSchema, options)
    return {
      grace: c.grace ?? this.#defaults.grace,
      soft: c.timeouts?.soft ?? this.#defaults.soft,
      hard: c.timeouts?.hard ?? this.#defaults.hard,
      eager: c.eagerRefresh ?? this.#defaults.eager,
      failSafe: c.failSafe ?? this.#defaults.failSafe,
    }
  }

  #fill(key: string, part: string, found: Found, grace: number): void {
    const now = this.#now()
    const stale = found.exp + Math.max(grace, this.#defaults.grace)
    if (now >= stale) return
    this.#l1.set({
      key,
      part,
      value: found.value,
      exp: found.exp,
      fresh: Math.min(found.exp, now + this.#l1Ttl),
      stale,
      ttl: found.ttl,
      gen: this.#gen,
    })
  }

  #unwrap(raw: unknown): Found {
    if (isEnvelope(raw)) return { value: raw[0], exp: raw[1], ttl: raw[2] }
    // Written by a plain RedisCache: no logical expiry known, trust it for one L1 period.
    return { value: raw, exp: this.#now() + this.#l1Ttl, ttl: this.#l1Ttl }
  }

  #l2Ttl(ttl: number, grace: number): number {
    return Math.min(MAX_TTL_MS, ttl + Math.max(grace, this.#defaults.grace))
  }

  /** Reads L2, then L3 (promoting hits); fills L1 unless an invalidation raced with the read. */
  async #fetch(key: string, part: string, grace: number): Promise<Found | undefined> {
    const flight = this.#track(part)
    try {
      let raw: unknown
      try {
        raw = await this.#l2.get(key)
      } catch (err) {
        this.#s.l2Errors++
        throw err
      }
      if (raw !== undefined) this.#s.l2Hits++
      else {
        this.#s.l2Misses++
        if (this.#l3) raw = await this.#fromL3(key, grace)
      }
      if (raw === undefined) return undefined
      const found = this.#unwrap(raw)
      if (!flight.dirty) this.#fill(key, part, found, grace)
      return found
    } finally {
      this.#untrack(part, flight)
    }
  }

  async #fromL3(key: string, grace: number): Promise<unknown> {
    const l3 = this.#l3 as Cache<unknown>
    let raw: unknown
    try {
      raw = await l3.get(key)
    } catch (err) {
      this.#s.l3Errors++
      this.emit('problem', err)
      return undefined
    }
    if (raw === undefined) {
      this.#s.l3Misses++
      return undefined
    }
    this.#s.l3Hits++
    const found = this.#unwrap(raw)
    const left = found.exp - this.#now()
    if (left > 0 && isEnvelope(raw)) {
      // Promote to L2 with the time it has left (at least the 1s minimum TTL).
      await this.#l2.set(key, raw, { ttl: this.#l2Ttl(Math.max(1000, left), grace) }).catch(() => {})
    }
    return raw
  }

  /** The L1 entry when it may be served as fresh right now. */
  #l1Fresh(key: string, now: number) {
    const e = this.#l1.map.get(key)
    if (e !== undefined && e.gen === this.#gen && this.#trusted && now < e.fresh) return e
    return undefined
  }

  /** L1 fallback while Redis is down: any entry still within its grace period (or fresh). */
  #fallback(key: string, reason: string): { value: unknown } | undefined {
    const e = this.#l1.map.get(key)
    if (e === undefined || this.#now() >= e.stale) return undefined
    this.#s.stale++
    this.#s.bytes += e.size
    this.#event('fail-safe', channels.failSafe, { key, reason })
    return { value: e.value }
  }

  // ---- reads --------------------------------------------------------------------------------------

  get(key: string): Promise<T | undefined> {
    // Hot path: one Map lookup and an expiry check, no Redis round trip, no codec.
    if (!this.#closed) {
      const e = this.#l1.map.get(key)
      if (e !== undefined && e.gen === this.#gen && this.#trusted && this.#now() < e.fresh) {
        e.used = true
        this.#s.l1Hits++
        this.#s.bytes += e.size
        return Promise.resolve(e.value as T)
      }
    }
    return this.#get(key)
  }

  async #get(key: string): Promise<T | undefined> {
    this.#check('get')
    checkKey(key)
    this.#s.l1Misses++
    const t0 = performance.now()
    const part = encodeKeyPart(key)
    try {
      const found = await this.#fetch(key, part, 0)
      if (found === undefined || this.#now() >= found.exp) return undefined
      this.#s.bytes += this.#l1.map.get(key)?.size ?? 0
      return found.value as T
    } catch (err) {
      if (this.options.failSafe && isUnavailable(err)) {
        const fb = this.#fallback(key, 'redis')
        if (fb) return fb.value as T
      }
      throw this.#fail(err)
    } finally {
      this.#latencyOf(t0)
    }
  }

  async has(key: string): Promise<boolean> {
    this.#check('has')
    checkKey(key)
    const now = this.#now()
    if (this.#l1Fresh(key, now)) return true
    const found = await this.#fetch(key, encodeKeyPart(key), 0).catch((err) => {
      throw this.#fail(err)
    })
    return found !== undefined && this.#now() < found.exp
  }

  async getWithTtl(key: string): Promise<ValueWithTtl<T> | undefined> {
    this.#check('getWithTtl')
    checkKey(key)
    const now = this.#now()
    const e = this.#l1Fresh(key, now)
    if (e) {
      this.#s.l1Hits++
      return { value: e.value as T, ttl: e.exp - now }
    }
    this.#s.l1Misses++
    const found = await this.#fetch(key, encodeKeyPart(key), 0).catch((err) => {
      throw this.#fail(err)
    })
    const left = found === undefined ? 0 : found.exp - this.#now()
    if (found === undefined || left <= 0) return undefined
    return { value: found.value as T, ttl: left }
  }

  async ttl(key: string): Promise<number | undefined> {
    return (await this.getWithTtl(key))?.ttl
  }

  async mget(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.#check('mget')
    if (!Array.isArray(keys)) throw new InvalidOptionError(PKG, 'keys', 'must be an array of strings')
    for (let i = 0; i < keys.length; i++) checkKey(keys[i], `keys.${i}`)
    const now = this.#now()
    const out: Array<T | undefined> = new Array(keys.length)
    const missing: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const e = this.#l1Fresh(keys[i] as string, now)
      if (e) {
        this.#s.l1Hits++
        this.#s.bytes += e.size
        out[i] = e.value as T
      } else {
        this.#s.l1Misses++
        missing.push(i)
      }
    }
    if (missing.length === 0) return out
    const t0 = performance.now()
    const mkeys = missing.map((i) => keys[i] as string)
    const parts = mkeys.map((k) => encodeKeyPart(k))
    const flights = parts.map((p) => this.#track(p))
    try {
      let raws: unknown[]
      try {
        raws = await this.#l2.mget(mkeys)
      } catch (err) {
        this.#s.l2Errors++
        if (!this.options.failSafe || !isUnavailable(err)) throw this.#fail(err)
        let any = false
        for (const [j, i] of missing.entries()) {
          const fb = this.#fallback(mkeys[j] as string, 'redis')
          if (fb) any = true
          out[i] = fb?.value as T | undefined
        }
        if (!any) throw this.#fail(err)
        return out
      }
      for (let j = 0; j < missing.length; j++) {
        let raw = raws[j]
        if (raw !== undefined) this.#s.l2Hits++
        else {
          this.#s.l2Misses++
          if (this.#l3) raw = await this.#fromL3(mkeys[j] as string, 0)
        }
        if (raw === undefined) continue
        const found = this.#unwrap(raw)
        if (!(flights[j] as Flight).dirty) this.#fill(mkeys[j] as string, parts[j] as string, found, 0)
        if (this.#now() < found.exp) out[missing[j] as number] = found.value as T
      }
      return out
    } finally {
      for (let j = 0; j < parts.length; j++) this.#untrack(parts[j] as string, flights[j] as Flight)
      this.#latencyOf(t0)
    }
  }

  // ---- writes -------------------------------------------------------------------------------------

  async set(key: string, value: T, options?: SetOptions): Promise<void> {
    this.#check('set')
    checkKey(key)
    const t0 = performance.now()
    await this.#write(key, value, this.#ttl(options), options, false, 0)
    this.#latencyOf(t0)
  }

  async setIfAbsent(key: string, value: T, options?: SetOptions): Promise<boolean> {
    this.#check('setIfAbsent')
    checkKey(key)
    return this.#write(key, value, this.#ttl(options), options, true, 0)
  }

  /** Writes L2 (and L3), then L1 unless an invalidation raced with the write; tells the other processes. */
  async #write(
    key: string,
    value: unknown,
    ttl: number,
    options: SetOptions | undefined,
    nx: boolean,
    grace: number,
  ): Promise<boolean> {
    if (value === undefined) {
      throw new EncodeError('undefined cannot be cached (a miss reads as undefined)', { key })
    }
    const part = encodeKeyPart(key)
    const now = this.#now()
    const env: Envelope = [value, now + ttl, ttl]
    const l2Options: SetOptions = { ...options, ttl: this.#l2Ttl(ttl, grace) }
    const flight = this.#track(part)
    try {
      let stored = true
      try {
        if (nx) stored = await this.#l2.setIfAbsent(key, env, l2Options)
        else await this.#l2.set(key, env, l2Options)
      } catch (err) {
        if (nx || !this.options.failSafe || !isUnavailable(err)) throw this.#fail(err)
        this.#s.l2Errors++
        this.#offlineWrite(key, { kind: 'set', env, options: l2Options })
        this.#fill(key, part, { value, exp: env[1], ttl }, grace)
        return true
      }
      if (!stored) return false
      this.#s.sets++
      if (this.#l3) {
        const { keepVersions: _k, ...l3Options } = l2Options
        await this.#l3.set(key, env, l3Options).catch((err) => {
          this.#s.l3Errors++
          this.emit('problem', err)
        })
      }
      this.#keepOwnWrite(key, part, { value, exp: env[1], ttl }, grace, flight)
      await this.#publish([part])
      return true
    } finally {
      this.#untrack(part, flight)
    }
  }

  async #publish(parts: readonly string[] | 'all'): Promise<void> {
    if (this.#co.mode !== 'bus') return
    await this.#co.publish(parts).catch((err) => {
      if (this.listenerCount('problem') > 0) this.emit('problem', err)
    })
  }

  #offlineWrite(key: string, write: OfflineWrite): void {
    const dropped = this.options.offlineWrites === 'drop' || this.options.maxOfflineWrites === 0
    if (!dropped) {
      this.#offline.delete(key)
      this.#offline.set(key, write)
      while (this.#offline.size > this.options.maxOfflineWrites) {
        this.#offline.delete(this.#offline.keys().next().value as string)
      }
      this.#offlineTimer ??= setInterval(() => this.#replay(), this.options.offlineRetryInterval)
      this.#offlineTimer.unref()
    }
    this.#event('offline-write', channels.offline, { key, dropped })
  }

  /** Replays writes queued during an outage (last write per key wins). */
  #replay(): void {
    if (this.#offline.size === 0 || this.#closed || this.#replaying) return
    this.#replaying = true
    const batch = [...this.#offline.entries()]
    void (async () => {
      let count = 0
      try {
        for (const [key, write] of batch) {
          if (this.#offline.get(key) !== write) continue
          try {
            if (write.kind === 'set') await this.#l2.set(key, write.env, write.options)
            else await this.#l2.delete(key)
          } catch {
            return
          }
          if (this.#offline.get(key) === write) this.#offline.delete(key)
          count++
          await this.#publish([encodeKeyPart(key)])
        }
        if (this.#offline.size === 0 && this.#offlineTimer) {
          clearInterval(this.#offlineTimer)
          this.#offlineTimer = undefined
        }
      } finally {
        this.#replaying = false
        if (count > 0 && this.listenerCount('replayed') > 0) this.emit('replayed', { count })
      }
    })()
  }

  async mset(entries: ReadonlyArray<MsetEntry<T>>, options?: SetOptions): Promise<void> {
    this.#check('mset')
    if (!Array.isArray(entries))
      throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
    const resolved = entries.map(({ key, value, ...own }) => {
      checkKey(key)
      if (value === undefined) throw new EncodeError('undefined cannot be cached', { key })
      const merged = { ...options, ...own }
      return { key, value, ttl: this.#ttl(merged), merged }
    })
    const t0 = performance.now()
    await Promise.all(resolved.map((e) => this.#write(e.key, e.value, e.ttl, e.merged, false, 0)))
    this.#latencyOf(t0)
  }

  async expire(key: string, ttl: Duration): Promise<boolean> {
    this.#check('expire')
    const ms = parseTtl(ttl)
    checkKey(key)
    const raw = await this.#l2.get(key).catch((err) => {
      throw this.#fail(err)
    })
    if (raw === undefined) return false
    const found = this.#unwrap(raw)
    if (this.#now() >= found.exp) return false
    await this.#write(key, found.value, ms, undefined, false, 0)
    return true
  }

  async delete(key: string): Promise<boolean> {
    this.#check('delete')
    checkKey(key)
    const part = encodeKeyPart(key)
    const flight = this.#track(part)
    flight.dirty = true
    try {
      const local = this.#l1.delete(key)
      let existed: boolean
      try {
        existed = await this.#l2.delete(key)
      } catch (err) {
        if (!this.options.failSafe || !isUnavailable(err)) throw this.#fail(err)
        this.#offlineWrite(key, { kind: 'delete' })
        return local
      }
      if (this.#l3) await this.#l3.delete(key).catch(() => {})
      if (existed) this.#s.deletes++
      await this.#publish([part])
      return existed
    } finally {
      this.#untrack(part, flight)
    }
  }

  /** Drops every L1 entry (here) and tells other processes to do the same (bus). */
  async #dropAll(): Promise<void> {
    this.#flushL1()
    await this.#publish('all')
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.#check('invalidateTags')
    const n = await this.#l2.invalidateTags(tags).catch((err) => {
      throw this.#fail(err)
    })
    if (this.#l3) await this.#l3.invalidateTags(tags).catch(() => 0)
    // L1 does not index tags: drop it all (tracking also evicts each removed key in every process).
    if (n > 0) await this.#dropAll()
    this.#s.deletes += n
    return n
  }

  async invalidate(key: string): Promise<number> {
    this.#check('invalidate')
    checkKey(key)
    const n = await this.#l2.invalidate(key).catch((err) => {
      throw this.#fail(err)
    })
    if (this.#l3) await this.#l3.invalidate(key).catch(() => 0)
    // L1 does not index dependencies: when anything was removed, drop it all (as for tags).
    if (n > 0) await this.#dropAll()
    else this.#l1.delete(key)
    this.#s.deletes += n
    return n
  }

  async deletePattern(glob: string): Promise<number> {
    this.#check('deletePattern')
    const n = await this.#l2.deletePattern(glob).catch((err) => {
      throw this.#fail(err)
    })
    if (this.#l3) await this.#l3.deletePattern(glob).catch(() => 0)
    const re = globToRegExp(glob)
    for (const k of [...this.#l1.map.keys()]) if (re.test(k)) this.#l1.delete(k)
    await this.#publish('all')
    this.#s.deletes += n
    return n
  }

  async clear(): Promise<void> {
    this.#check('clear')
    await this.#l2.clear().catch((err) => {
      throw this.#fail(err)
    })
    if (this.#l3) await this.#l3.clear().catch(() => {})
    this.#offline.clear()
    await this.#dropAll()
  }

  async versions(key: string): Promise<Array<CacheVersion<T>>> {
    this.#check('versions')
    const history = await this.#l2.versions(key)
    return history.map((h) => ({ ...h, value: this.#unwrap(h.value).value as T }))
  }

  async rollback(key: string, version: number): Promise<void> {
    this.#check('rollback')
    const history = await this.versions(key)
    const found = history.find((v) => v.version === version)
    if (!found) throw new VersionNotFoundError(key, version)
    const left = (await this.ttl(key)) ?? this.options.defaultTtl
    await this.#write(key, found.value, Math.max(1000, left), { keepVersions: history.length }, false, 0)
  }

  // ---- read-through -------------------------------------------------------------------------------

  /**
   * Read-through with grace, fail-safe, soft/hard timeouts and eager refresh. A miss runs the factory once
   * across processes (the RedisCache lease); a stale value (within `grace`) is refreshed by one process
   * while the others keep serving it.
   * @example const user = await cache.getOrSet('user:42', ({ signal }) => db.loadUser(42, { signal }), { ttl: '5m' })
   */
  getOrSet(key: string, factory: TieredFactory<T>, options?: TieredGetOrSetOptions): Promise<T> {
    if (!this.#closed) {
      const e = this.#l1.map.get(key)
      if (e !== undefined && e.gen === this.#gen && this.#trusted) {
        const now = this.#now()
        if (now < e.fresh) {
          e.used = true
          this.#s.l1Hits++
          this.#s.saved++
          this.#s.bytes += e.size
          const eager = options?.eagerRefresh ?? this.#eager
          if (eager > 0 && now >= e.exp - e.ttl * (1 - eager) && !this.#flights.has(key)) {
            this.#eagerRefresh(key, factory, options, { value: e.value, exp: e.exp, ttl: e.ttl })
          }
          return Promise.resolve(e.value as T)
        }
      }
    }
    return this.#getOrSet(key, factory, options)
  }

  async #getOrSet(
    key: string,
    factory: TieredFactory<T>,
    options: TieredGetOrSetOptions | undefined,
  ): Promise<T> {
    this.#check('getOrSet')
    checkKey(key)
    if (typeof factory !== 'function') throw new InvalidOptionError(PKG, 'factory', 'must be a function')
    const ttl = this.#ttl(options)
    const call = this.#call(options)
    this.#s.l1Misses++
    const part = encodeKeyPart(key)
    let stale: Found | undefined
    let down = false
    let leftover = false
    try {
      const found = await this.#fetch(key, part, call.grace)
      const now = this.#now()
      if (found !== undefined && now < found.exp) {
        this.#s.saved++
        this.#s.bytes += this.#l1.map.get(key)?.size ?? 0
        if (call.eager > 0 && now >= found.exp - found.ttl * (1 - call.eager) && !this.#flights.has(key)) {
          this.#eagerRefresh(key, factory, options, found)
        }
        return found.value as T
      }
      if (found !== undefined && now < found.exp + call.grace) stale = found
      // An expired leftover (kept in Redis for another reader's longer grace) must be replaced, not returned.
      else if (found !== undefined) leftover = true
    } catch (err) {
      if (!call.failSafe || !isUnavailable(err)) throw this.#fail(err)
      down = true
      const e = this.#l1.map.get(key)
      if (e !== undefined && this.#now() < e.exp) {
        // Logically fresh but unverified (Redis down): serve it.
        return (this.#fallback(key, 'redis') as { value: unknown }).value as T
      }
      if (e !== undefined && this.#now() < e.stale) stale = { value: e.value, exp: e.exp, ttl: e.ttl }
    }
    return this.#compute(key, part, factory, options, ttl, call, stale, down, leftover)
  }

  #eagerRefresh(
    key: string,
    factory: TieredFactory<T>,
    options: TieredGetOrSetOptions | undefined,
    current: Found,
  ) {
    let ttl: number
    let call: CallOptions
    try {
      ttl = this.#ttl(options)
      call = this.#call(options)
    } catch {
      return
    }
    const part = encodeKeyPart(key)
    const flight = this.#refresh(key, part, factory, options, ttl, call, current).finally(() =>
      this.#flights.delete(key),
    )
    this.#flights.set(key, flight)
    flight.catch((error) => this.#event('refresh-error', channels.refreshError, { key, error }))
  }

  async #compute(
    key: string,
    part: string,
    factory: TieredFactory<T>,
    options: TieredGetOrSetOptions | undefined,
    ttl: number,
    call: CallOptions,
    stale: Found | undefined,
    down: boolean,
    leftover = false,
  ): Promise<T> {
    let flight = this.#flights.get(key) as Promise<T> | undefined
    if (flight) this.#s.saved++
    else {
      flight = (
        down
          ? this.#offlineCompute(key, part, factory, ttl, call, stale)
          : stale || leftover
            ? this.#refresh(key, part, factory, options, ttl, call, stale)
            : this.#fill2(key, part, factory, options, ttl, call)
      ).finally(() => this.#flights.delete(key)) as Promise<T>
      this.#flights.set(key, flight)
    }
    if (stale === undefined) return flight
    flight.catch((error) => this.#event('refresh-error', channels.refreshError, { key, error }))
    const serveStale = (reason: string): T => {
      this.#s.stale++
      if (reason !== 'grace') this.#event('fail-safe', channels.failSafe, { key, reason })
      return stale.value as T
    }
    if (call.soft === 0) return serveStale('grace')
    let timer: NodeJS.Timeout | undefined
    const soft = new Promise<'soft'>((resolve) => {
      timer = setTimeout(() => resolve('soft'), call.soft)
    })
    try {
      const winner = await Promise.race([flight, soft])
      if (winner === 'soft') return serveStale('soft-timeout')
      return winner as T
    } catch (err) {
      if (call.failSafe)
        return serveStale(isCacheError(err, 'E_FACTORY_TIMEOUT') ? 'hard-timeout' : 'factory')
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs the factory with the hard timeout and an AbortSignal. */
  #run(key: string, factory: TieredFactory<T>, call: CallOptions, stale: Found | undefined): Promise<T> {
    this.#s.factoryCalls++
    const controller = new AbortController()
    this.#aborts.add(controller)
    const ctx: TieredFactoryContext = { key, signal: controller.signal, stale: stale?.value }
    let result: Promise<T>
    try {
      result = Promise.resolve(factory(ctx))
    } catch (err) {
      result = Promise.reject(err)
    }
    if (call.hard === 0) return result.finally(() => this.#aborts.delete(controller))
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new FactoryTimeoutError(key, call.hard)
        controller.abort(err)
        reject(err)
      }, call.hard)
      result.then(
        (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        (e) => {
          clearTimeout(timer)
          reject(e)
        },
      )
    }).finally(() => this.#aborts.delete(controller))
  }

  /** A miss with Redis up: one factory call across processes (RedisCache's lease). */
  async #fill2(
    key: string,
    part: string,
    factory: TieredFactory<T>,
    options: TieredGetOrSetOptions | undefined,
    ttl: number,
    call: CallOptions,
  ): Promise<T> {
    let called = false
    let env: Envelope | undefined
    const flight = this.#track(part)
    try {
      const { grace: _g, timeouts: _t, eagerRefresh: _e, failSafe: _f, ...l2Options } = options ?? {}
      let raw: unknown
      try {
        raw = await this.#l2.getOrSet(
          key,
          async () => {
            called = true
            const value = await this.#run(key, factory, call, undefined)
            if (value === undefined) throw new EncodeError('undefined cannot be cached', { key })
            env = [value, this.#now() + ttl, ttl]
            return env
          },
          { ...l2Options, ttl: this.#l2Ttl(ttl, call.grace) },
        )
      } catch (err) {
        if (called || !call.failSafe || !isUnavailable(err)) throw err
        // Redis went away between the read and the lease: compute locally.
        return await this.#offlineCompute(key, part, factory, ttl, call, undefined)
      }
      if (!called) this.#s.saved++
      else this.#s.sets++
      const found = this.#unwrap(raw)
      if (called && this.#l3 && env) {
        await this.#l3.set(key, env, { ttl: this.#l2Ttl(ttl, call.grace) }).catch(() => {})
      }
      if (called) this.#keepOwnWrite(key, part, found, call.grace, flight)
      else if (!flight.dirty) this.#fill(key, part, found, call.grace)
      if (called) await this.#publish([part])
      return found.value as T
    } finally {
      this.#untrack(part, flight)
    }
  }

  /** A stale value is at hand: one process (refresh lease) recomputes; others keep the stale value. */
  async #refresh(
    key: string,
    part: string,
    factory: TieredFactory<T>,
    options: TieredGetOrSetOptions | undefined,
    ttl: number,
    call: CallOptions,
    stale: Found | undefined,
  ): Promise<T> {
    const lease = this.#keys.refreshLease(part)
    let got: unknown
    try {
      got = await this.#conn.send(['SET', lease, '1', 'NX', 'PX', String(REFRESH_LEASE_MS)], { key: lease })
    } catch (err) {
      if (!isUnavailable(err)) throw err
      return this.#offlineCompute(key, part, factory, ttl, call, stale)
    }
    if (got !== 'OK' && stale) {
      this.#s.saved++
      return stale.value as T
    }
    try {
      const value = await this.#run(key, factory, call, stale)
      const {
        grace: _g,
        timeouts: _t,
        eagerRefresh: _e,
        failSafe: _f,
        lease: _l,
        ...setOptions
      } = options ?? {}
      await this.#write(key, value, ttl, setOptions, false, call.grace)
      return value
    } finally {
      if (got === 'OK') await this.#conn.send(['DEL', lease], { key: lease }).catch(() => {})
    }
  }

  /** Redis is down: compute here and keep the value in L1 (queued for L2 per `offlineWrites`). */
  async #offlineCompute(
    key: string,
    part: string,
    factory: TieredFactory<T>,
    ttl: number,
    call: CallOptions,
    stale: Found | undefined,
  ): Promise<T> {
    const value = await this.#run(key, factory, call, stale)
    const now = this.#now()
    const env: Envelope = [value, now + ttl, ttl]
    this.#fill(key, part, { value, exp: env[1], ttl }, call.grace)
    this.#offlineWrite(key, { kind: 'set', env, options: { ttl: this.#l2Ttl(ttl, call.grace) } })
    return value
  }

  /**
   * Values of several keys; `loadMissing` is called once with only the keys found in no tier and must
   * return their values (a Map or a record); those are stored and returned in order.
   */
  async getManyOrSet(
    keys: readonly string[],
    loadMissing: (
      keys: string[],
    ) => Promise<Map<string, T> | Record<string, T>> | Map<string, T> | Record<string, T>,
    options?: SetOptions,
  ): Promise<Array<T | undefined>> {
    this.#check('getManyOrSet')
    if (typeof loadMissing !== 'function')
      throw new InvalidOptionError(PKG, 'loadMissing', 'must be a function')
    if (options?.ttl !== undefined) this.#ttl(options)
    const values = await this.mget(keys)
    const missing = [...new Set(keys.filter((_, i) => values[i] === undefined))]
    this.#s.saved += keys.length - missing.length
    if (missing.length === 0) return values
    this.#s.factoryCalls++
    const loaded = await loadMissing(missing)
    const get = (k: string): T | undefined =>
      loaded instanceof Map
        ? loaded.get(k)
        : Object.hasOwn(loaded, k)
          ? (loaded as Record<string, T>)[k]
          : undefined
    const entries: Array<MsetEntry<T>> = []
    for (const k of missing) {
      const v = get(k)
      if (v !== undefined) entries.push({ key: k, value: v })
    }
    if (entries.length > 0) await this.mset(entries, options)
    return keys.map((k, i) => (values[i] !== undefined ? values[i] : get(k)))
  }

  /**
   * Preloads keys with up to `concurrency` loaders at once, reporting progress. A failing loader is counted
   * (and reported in the result), not thrown.
   */
  async warm(
    loaders: ReadonlyArray<WarmLoader<T>>,
    options: WarmOptions = {},
  ): Promise<{ done: number; failed: number; errors: Array<{ key: string; error: unknown }> }> {
    this.#check('warm')
    if (!Array.isArray(loaders))
      throw new InvalidOptionError(PKG, 'loaders', 'must be an array of { key, load }')
    loaders.forEach((l, i) => {
      checkKey(l?.key, `loaders.${i}.key`)
      if (typeof l.load !== 'function')
        throw new InvalidOptionError(PKG, `loaders.${i}.load`, 'must be a function')
    })
    const concurrency = options.concurrency ?? 8
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new InvalidOptionError(
        PKG,
        'concurrency',
        `must be a positive integer, got ${String(concurrency)}`,
      )
    }
    const setOptions: SetOptions = options.ttl === undefined ? {} : { ttl: this.#ttl(options) }
    let next = 0
    let done = 0
    let failed = 0
    const errors: Array<{ key: string; error: unknown }> = []
    const worker = async () => {
      while (next < loaders.length) {
        const l = loaders[next++] as WarmLoader<T>
        try {
          const value = await l.load()
          this.#s.factoryCalls++
          await this.set(l.key, value, setOptions)
        } catch (error) {
          failed++
          errors.push({ key: l.key, error })
        }
        done++
        options.onProgress?.({ done, total: loaders.length, failed, key: l.key })
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, loaders.length) }, worker))
    return { done, failed, errors }
  }

  /**
   * Runs `warm(loaders)` now and then every `interval` until `stop()` (or `close()`); a run does not start
   * while the previous one is still going. Results reach `onRun`.
   * @example const job = cache.warmEvery(() => topProducts(), '5m', { concurrency: 4 })
   */
  warmEvery(
    loaders:
      | ReadonlyArray<WarmLoader<T>>
      | (() => ReadonlyArray<WarmLoader<T>> | Promise<ReadonlyArray<WarmLoader<T>>>),
    interval: Duration,
    options: WarmOptions & { onRun?: (result: { done: number; failed: number }) => void } = {},
  ): { stop(): void; readonly runs: number } {
    this.#check('warmEvery')
    const ms = parseOptions(PKG, zDuration({ min: 10, max: MAX_TTL_MS }), interval, 'interval')
    let running = false
    let runs = 0
    const run = async () => {
      if (running || this.#closed) return
      running = true
      try {
        const list = typeof loaders === 'function' ? await loaders() : loaders
        const result = await this.warm(list, options)
        runs++
        options.onRun?.(result)
      } catch (err) {
        if (this.listenerCount('problem') > 0) this.emit('problem', err)
      } finally {
        running = false
      }
    }
    const timer = setInterval(run, ms)
    timer.unref()
    this.#timers.add(timer)
    void run()
    return {
      stop: () => {
        clearInterval(timer)
        this.#timers.delete(timer)
      },
      get runs() {
        return runs
      },
    }
  }

  // ---- stats and lifecycle ------------------------------------------------------------------------

  /** Hit ratios of L1/L2/L3, factory calls made and saved, bytes and stale values served. */
  tierStats(): TierStats {
    const s = this.#s
    return {
      l1: {
        ...counters(s.l1Hits, s.l1Misses),
        entries: this.#l1.size,
        bytes: this.#l1.bytes,
        evictions: this.#l1.evictions,
      },
      l2: { ...counters(s.l2Hits, s.l2Misses), errors: s.l2Errors },
      l3: this.#l3 ? { ...counters(s.l3Hits, s.l3Misses), errors: s.l3Errors } : undefined,
      factoryCalls: s.factoryCalls,
      factoryCallsSaved: s.saved,
      bytesServed: s.bytes,
      staleServed: s.stale,
      invalidationsReceived: s.invalidations,
      offlineWritesQueued: this.#offline.size,
      coherent: this.#trusted,
    }
  }

  /** Counters of the whole cache (hits of any tier); latency covers operations that reached Redis. */
  stats(): CacheStats {
    const s = this.#s
    const hits = s.l1Hits + s.l2Hits + s.l3Hits
    const misses = this.#l3 ? s.l3Misses : s.l2Misses
    const n = Math.min(this.#latencyCount, this.#latency.length)
    const sorted = this.#latency.slice(0, n).sort()
    const pick = (p: number) => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(p * n))] as number))
    return {
      namespace: this.namespace,
      hits,
      misses,
      sets: s.sets,
      deletes: s.deletes,
      errors: s.errors,
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      latency: { p50: pick(0.5), p99: pick(0.99), samples: this.#latencyCount },
      entries: this.#l1.size,
      bytes: this.#l1.bytes,
      evictions: this.#l1.evictions,
    }
  }

  /** True when L1 holds a value for `key` that would be served without asking Redis. */
  cachedLocally(key: string): boolean {
    return this.#l1Fresh(key, this.#now()) !== undefined
  }

  /** The Redis key that holds `key`'s value in L2 (for inspection and tests). */
  redisKey(key: string): string {
    return this.#l2.redisKey(key)
  }

  /** True while L1 is trusted (the coherence mechanism is established). */
  get coherent(): boolean {
    return this.#trusted
  }

  /** Stops coherence, aborts running factories and releases timers; the connection stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#offlineTimer) clearInterval(this.#offlineTimer)
    for (const t of this.#timers) clearInterval(t)
    for (const c of this.#aborts) c.abort(new CacheError('E_CLOSED', `[${PKG}] the cache was closed`))
    await this.#co.close()
    await this.#l2.close()
    this.#l1.clear()
  }
}

/**
 * Creates a TieredCache (L1 memory + L2 Redis + optional L3).
 * @example
 * const cache = createTieredCache({ connection: conn, namespace: 'app', l1: { maxEntries: 10_000 }, grace: '1h' })
 * const user = await cache.getOrSet('user:42', () => db.loadUser(42))
 */
export function createTieredCache<T = unknown>(options: TieredCacheOptions): TieredCache<T> {
  return new TieredCache<T>(options)
}
