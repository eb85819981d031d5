import diagnostics from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'
import { type Connection, type Duration, LatencyRing, parseOptions, type ScriptFn } from '@cache/client'
import { type Cache, parseTtl, RedisCache, type SetOptions } from '@cache/core'
import {
  BusCoherence,
  type Coherence,
  type CoherenceHandlers,
  NoCoherence,
  TrackingCoherence,
} from './coherence.js'
import { PKG } from './defaults.js'
import { closedError } from './errors.js'
import { TieredKeys } from './keys.js'
import { L1Store } from './l1.js'
import { callSchema, type ResolvedTieredOptions, type TieredGetOrSetOptions } from './options.js'
import * as lua from './scripts/index.js'

/** The value stored in L2/L3: [value, logical expiry (ms since epoch), ttl (ms)]. */
export type Envelope = [unknown, number, number]

/** A value read from a tier, with its logical expiry and TTL. */
export interface Found {
  value: unknown
  exp: number
  ttl: number
}

/** Operations on one key in flight; `dirty` when an invalidation for the key arrived meanwhile. */
export interface Flight {
  dirty: boolean
  n: number
}

/** getOrSet options resolved against the cache's defaults. */
export interface CallOptions {
  grace: number
  soft: number
  hard: number
  eager: number
  failSafe: boolean
}

/** A write queued while Redis was unavailable. */
export type OfflineWrite = { kind: 'set'; env: Envelope; options: SetOptions } | { kind: 'delete' }

/** Counters behind `stats()` and `tierStats()`. */
export interface Counters {
  l1Hits: number
  l1Misses: number
  l2Hits: number
  l2Misses: number
  l2Errors: number
  l3Hits: number
  l3Misses: number
  l3Errors: number
  sets: number
  deletes: number
  errors: number
  factoryCalls: number
  saved: number
  bytes: number
  stale: number
  invalidations: number
}

/** diagnostics_channel channels of @cache/tiered. */
export const channels = {
  failSafe: diagnostics.channel('cache:tiered:fail-safe'),
  coherence: diagnostics.channel('cache:tiered:coherence'),
  refreshError: diagnostics.channel('cache:tiered:refresh-error'),
  offline: diagnostics.channel('cache:tiered:offline-write'),
  get: diagnostics.channel('cache:tiered:get'),
}

/** A tier of a TieredCache, as `cache:tiered:get` names it. */
export type Tier = 'l1' | 'l2' | 'l3'

/**
 * Published on `cache:tiered:get` for every key read from a tier (the shape @cache/metrics' `instrument()`
 * turns into `cache_requests_total{namespace,tier,outcome}`): a hit or miss of L1, L2 or L3, or a stale
 * value served (grace, soft timeout, fail-safe) by the tier it came from.
 */
export interface TieredGetEvent {
  namespace: string
  tier: Tier
  outcome: 'hit' | 'miss' | 'stale'
}

const COUNTER = {
  l1: { hit: 'l1Hits', miss: 'l1Misses' },
  l2: { hit: 'l2Hits', miss: 'l2Misses' },
  l3: { hit: 'l3Hits', miss: 'l3Misses' },
} as const

type GetEvents = Record<Tier, Record<TieredGetEvent['outcome'], TieredGetEvent>>

/**
 * The nine frozen `cache:tiered:get` messages of one cache, built with its state: an L1 hit allocates
 * nothing, and the state keeps one shape from the start (a field added on the first published read moved it
 * to a second hidden class, so every access to it on the hot path checked two).
 */
function getEventsOf(namespace: string): GetEvents {
  const of = (tier: Tier) => ({
    hit: Object.freeze({ namespace, tier, outcome: 'hit' as const }),
    miss: Object.freeze({ namespace, tier, outcome: 'miss' as const }),
    stale: Object.freeze({ namespace, tier, outcome: 'stale' as const }),
  })
  return { l1: of('l1'), l2: of('l2'), l3: of('l3') }
}

/**
 * Counts one read of a tier (stats) and publishes it on `cache:tiered:get` when someone listens. The
 * message is one of nine frozen objects per cache: subscribers get the same object for the same read kind.
 */
export function counted(st: TieredState, tier: Tier, outcome: TieredGetEvent['outcome']): void {
  if (outcome === 'stale') st.s.stale++
  else st.s[COUNTER[tier][outcome]]++
  if (channels.get.hasSubscribers) channels.get.publish(st.getEvents[tier][outcome])
}

/** The Lua scripts of a TieredCache (on its connection). */
export interface TieredScripts {
  /** get-or-lease.lua: the value, or the getOrSet lease. */
  getOrLease: ScriptFn<[Buffer | null, number]>
  /** index-release.lua: index sets, then the lease release (with its notification). */
  indexRelease: ScriptFn<number>
  /** mget-or-lease.lua: the values of many keys and the getOrSet lease of each missing one (one slot). */
  mgetOrLease: ScriptFn<[Array<Buffer | null>, string]>
  /** store-release.lua: many values, their index sets and lease releases (off Cluster). */
  storeRelease: ScriptFn<number>
}

/**
 * Everything a TieredCache holds, shared by the files of its concerns (reads, writes, read-through,
 * invalidation, warming, stats). The TieredCache class is a thin facade over it. @internal
 */
export interface TieredState {
  readonly namespace: string
  /** The `cache:tiered:get` messages of this cache (see `counted`). */
  readonly getEvents: GetEvents
  readonly options: Readonly<ResolvedTieredOptions>
  readonly conn: Connection
  readonly l1: L1Store
  readonly l2: RedisCache<unknown>
  readonly l3: Cache<unknown> | undefined
  readonly keys: TieredKeys
  readonly scripts: TieredScripts
  co: Coherence
  readonly now: () => number
  readonly l1Ttl: number
  readonly defaults: CallOptions
  readonly inflight: Map<string, Flight>
  readonly flights: Map<string, Promise<unknown>>
  readonly offline: Map<string, OfflineWrite>
  readonly aborts: Set<AbortController>
  readonly timers: Set<NodeJS.Timeout>
  offlineTimer: NodeJS.Timeout | undefined
  replaying: boolean
  trusted: boolean
  gen: number
  closed: boolean
  readonly s: Counters
  readonly latency: LatencyRing
  /** The facade, for events. */
  readonly events: EventEmitter
}

/** Wiring: builds the state of a TieredCache (L1, the L2 RedisCache, L3, keys) and its coherence. */
export function createState(
  conn: Connection,
  o: Readonly<ResolvedTieredOptions>,
  events: EventEmitter,
  handlers: CoherenceHandlers,
): TieredState {
  const l2 = new RedisCache<unknown>(conn, {
    namespace: o.namespace,
    defaultTtl: o.defaultTtl,
    classification: o.classification,
    // Reads of L2 are published once, by this package (`cache:tiered:get`, tier l2), not again by core.
    publishReads: false,
    ...(o.codec ? { codec: o.codec } : {}),
  })
  const keys = new TieredKeys(l2.keys)
  const co: Coherence =
    o.coherence === 'tracking'
      ? new TrackingCoherence(conn, keys.valuePrefix, handlers)
      : o.coherence === 'bus'
        ? new BusCoherence(conn, `${conn.keys.namespace}:${o.namespace}`, handlers)
        : new NoCoherence(handlers)
  return {
    namespace: o.namespace,
    getEvents: getEventsOf(o.namespace),
    options: o,
    conn,
    l1: new L1Store(o.l1.maxEntries, o.l1.maxBytes),
    l2,
    l3: o.l3,
    keys,
    scripts: {
      getOrLease: conn.defineScript('tiered:get-or-lease', lua.getOrLease, { keys: 2, buffers: true }),
      indexRelease: conn.defineScript('tiered:index-release', lua.indexRelease, { keys: { multipleOf: 1 } }),
      // Keys of many slots off Cluster; on a Cluster mget-or-lease is called per slot, store-release not at all.
      mgetOrLease: conn.defineScript('tiered:mget-or-lease', lua.mgetOrLease, {
        keys: { multipleOf: 2 },
        buffers: true,
        crossSlot: true,
      }),
      storeRelease: conn.defineScript('tiered:store-release', lua.storeRelease, {
        keys: { multipleOf: 1 },
        crossSlot: true,
      }),
    },
    co,
    now: o.now ?? Date.now,
    l1Ttl: o.l1.ttl,
    defaults: {
      grace: o.grace,
      soft: o.timeouts.soft,
      hard: o.timeouts.hard,
      eager: o.eagerRefresh,
      failSafe: o.failSafe,
    },
    inflight: new Map(),
    flights: new Map(),
    offline: new Map(),
    aborts: new Set(),
    timers: new Set(),
    offlineTimer: undefined,
    replaying: false,
    trusted: false,
    gen: 0,
    closed: false,
    s: {
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
    },
    latency: new LatencyRing(),
    events,
  }
}

/** Throws E_CLOSED once the cache is closed. */
export function check(st: TieredState, op: string): void {
  if (st.closed) throw closedError(op)
}

/** Counts an error and returns it (for `throw fail(st, err)`). */
export function fail<E>(st: TieredState, err: E): E {
  st.s.errors++
  return err
}

/** Emits `problem` when someone listens. */
export function problem(st: TieredState, err: unknown): void {
  if (st.events.listenerCount('problem') > 0) st.events.emit('problem', err)
}

/** Publishes on a diagnostics channel and emits the same-named event (when someone listens). */
export function event(
  st: TieredState,
  name: string,
  channel: diagnostics.Channel,
  payload: Record<string, unknown>,
): void {
  if (channel.hasSubscribers) channel.publish({ namespace: st.namespace, ...payload })
  if (st.events.listenerCount(name) > 0) st.events.emit(name, payload)
}

/** The TTL of a call (its `ttl` option, or the default). */
export function ttlOf(st: TieredState, options: { ttl?: Duration } | undefined): number {
  return options?.ttl === undefined ? st.options.defaultTtl : parseTtl(options.ttl)
}

/** getOrSet options resolved against the cache's defaults. */
export function callOf(st: TieredState, options: TieredGetOrSetOptions | undefined): CallOptions {
  if (options === undefined) return st.defaults
  const c = parseOptions(PKG, callSchema, options)
  return {
    grace: c.grace ?? st.defaults.grace,
    soft: c.timeouts?.soft ?? st.defaults.soft,
    hard: c.timeouts?.hard ?? st.defaults.hard,
    eager: c.eagerRefresh ?? st.defaults.eager,
    failSafe: c.failSafe ?? st.defaults.failSafe,
  }
}
