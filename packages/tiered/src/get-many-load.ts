import type { Lease } from '@cache/client'
import { InvalidOptionError } from '@cache/client'
import type { SetOptions } from '@cache/core'
import { PKG } from './defaults.js'
import type { TieredEntryOptions, TieredGetManyOptions, TieredGetOrSetOptions } from './options.js'
import { type Computation, fillMiss, keepOffline, withHardTimeout } from './read-through.js'
import { type CallOptions, type Found, type TieredState, ttlOf } from './state.js'

/** getManyOrSet's loader and its jobs: the calls, entry options, `cacheMisses`, notifications, offline. */
/** What the getManyOrSet loader receives besides the keys. */
export interface LoadContext<T> {
  /** Aborted when the hard timeout fires (or the cache closes). */
  signal: AbortSignal
  /** The stale values being refreshed (keys within their grace), by key. */
  stale: ReadonlyMap<string, T>
}

/** The loader of getManyOrSet: the values of the keys to compute (a Map or a record; absent keys are misses). */
export type LoadMissing<T> = (
  keys: string[],
  ctx: LoadContext<T>,
) => Promise<Map<string, T> | Record<string, T>> | Map<string, T> | Record<string, T>

/** One key this process computes: its deferred (registered in the flight map) and what it knows. */
export interface Job {
  key: string
  part: string
  /** A value within its grace (refreshed under the refresh lease, served per the soft timeout). */
  stale: Found | undefined
  /** The owner token of the getOrSet lease the batched read already took for this key. */
  token?: string
  /** The batched read found no value and the lease held by another process: wait for it (no re-read). */
  busy?: boolean
  resolve(value: unknown): void
  reject(err: unknown): void
}

/** One call, resolved once. */
export interface Batch<T> {
  load: LoadMissing<T>
  options: TieredGetManyOptions<T> | undefined
  call: CallOptions
  ttl: number
  lease: number
  entry: ((key: string, value: T) => TieredEntryOptions | undefined) | undefined
  cacheMisses: number | undefined
  /** The core SetOptions of every entry (tags, dependsOn, keepVersions). */
  setOptions: SetOptions
  /** No L3, no `cacheMisses`: one mget-or-lease.lua per chunk (per slot on a Cluster) reads and leases. */
  batchedRead: boolean
  /** Off Cluster too: one store-release.lua stores the loaded values and releases their leases. */
  batchedStore: boolean
}

/** Marks a key the loader did not return (inside the getOrSet factory of a taken-over key). */
export const NOT_LOADED = Symbol('not loaded')
/** Settles (as misses) the jobs whose key is remembered as absent (`cacheMisses`); returns the others. */
export async function skipRemembered(st: TieredState, jobs: Job[]): Promise<Job[]> {
  const marked = await Promise.all(jobs.map((j) => (j.stale ? false : remembered(st, j.part))))
  const rest: Job[] = []
  for (const [i, j] of jobs.entries()) {
    if (marked[i]) {
      st.s.saved++
      j.resolve(undefined)
    } else rest.push(j)
  }
  return rest
}

/** True when the key is remembered as absent (`cacheMisses`). */
export async function remembered(st: TieredState, part: string): Promise<boolean> {
  const key = st.keys.miss(part)
  return Number(await st.conn.send(['EXISTS', key], { key })) === 1
}

/** Remembers that the loader did not return a key, for `cacheMisses`. */
export async function remember(st: TieredState, part: string, ms: number): Promise<void> {
  const key = st.keys.miss(part)
  await st.conn.send(['SET', key, '1', 'PX', String(ms)], { key })
}

/** The notification getOrSet waiters of other processes wake on (`d:<part>` done, `e:<part>:<Name>`). */
export function notice(st: TieredState, j: Job, kind: 'd' | 'e', err?: unknown) {
  if (j.stale) return undefined
  if (kind === 'd') return { channel: st.l2.keys.channel, message: `d:${j.part}` }
  // Only the error's name crosses processes (as in @cache/core's getOrSet): ':' would break the framing.
  const name = (err instanceof Error ? err.name : typeof err).replace(/[^A-Za-z0-9_$.-]/g, '') || 'Error'
  return { channel: st.l2.keys.channel, message: `e:${j.part}:${name}` }
}

/** Calls the loader once (hard timeout, abort signal) for the jobs' keys. */
export async function callLoader<T>(
  st: TieredState,
  b: Batch<T>,
  jobs: readonly Job[],
): Promise<(key: string) => T | undefined> {
  st.s.factoryCalls++
  const keys = jobs.map((j) => j.key)
  const stale = new Map<string, T>()
  for (const j of jobs) if (j.stale) stale.set(j.key, j.stale.value as T)
  const loaded = await withHardTimeout(
    st,
    keys.length === 1 ? (keys[0] as string) : `${keys[0]}" and ${keys.length - 1} more keys "`,
    b.call.hard,
    (signal) => b.load(keys, { signal, stale }),
    'getManyOrSet',
  )
  if (loaded instanceof Map) return (k) => loaded.get(k)
  if (typeof loaded !== 'object' || loaded === null)
    throw new InvalidOptionError(PKG, 'loadMissing', 'must return a Map or a record of the keys it found')
  return (k) => (Object.hasOwn(loaded, k) ? (loaded as Record<string, T>)[k] : undefined)
}

/** The write options of one loaded entry: the call's, with `entry(key, value)` merged over them. */
export function entryWrite<T>(st: TieredState, b: Batch<T>, key: string, value: T) {
  const own = b.entry?.(key, value)
  if (own === undefined) return { ttl: b.ttl, options: b.setOptions }
  const { ttl: _ttl, ...rest } = own
  return { ttl: own.ttl === undefined ? b.ttl : ttlOf(st, own), options: { ...b.setOptions, ...rest } }
}

/** Renews every lease of the batch from one timer (a third of the shortest lease) until stopped. */
export function keepAll(leases: readonly Lease[]): () => void {
  let every = Number.POSITIVE_INFINITY
  for (const l of leases) every = Math.min(every, l.ttlMs / 3)
  const timer = setInterval(() => {
    for (const l of leases) l.renew().catch(() => {})
  }, every)
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * A miss whose lease another process holds: getOrSet's flight waits for its notification (or the poll)
 * and reads the value it stored; should that process die, the lease expires and this one loads the key.
 */
export function awaitElsewhere<T>(st: TieredState, b: Batch<T>, j: Job): void {
  const { entry: _n, cacheMisses: _c, ...options } = b.options ?? {}
  const c: Computation<T> = {
    key: j.key,
    part: j.part,
    factory: async ({ signal }) => {
      if (b.cacheMisses !== undefined && (await remembered(st, j.part))) throw NOT_LOADED
      const loaded = await b.load([j.key], { signal, stale: new Map() })
      const value = loaded instanceof Map ? loaded.get(j.key) : (loaded as Record<string, T>)?.[j.key]
      if (value === undefined) {
        if (b.cacheMisses !== undefined) await remember(st, j.part, b.cacheMisses)
        throw NOT_LOADED
      }
      return value
    },
    options: options as TieredGetOrSetOptions,
    ttl: b.ttl,
    call: b.call,
    stale: undefined,
    down: false,
    leftover: false,
  }
  fillMiss(st, c).then(j.resolve, (err) => (err === NOT_LOADED ? j.resolve(undefined) : j.reject(err)))
}

/** Redis is unavailable: load here, keep the values in L1 and queue them for L2 (`offlineWrites`). */
export async function loadOffline<T>(st: TieredState, b: Batch<T>, jobs: Job[]): Promise<void> {
  let pick: (key: string) => T | undefined
  try {
    pick = await callLoader(st, b, jobs)
  } catch (err) {
    for (const j of jobs) j.reject(err)
    return
  }
  for (const j of jobs) {
    const value = pick(j.key)
    if (value !== undefined) {
      const { ttl, options } = entryWrite(st, b, j.key, value)
      keepOffline(st, j.key, j.part, value, ttl, b.call.grace, options)
    }
    j.resolve(value)
  }
}
