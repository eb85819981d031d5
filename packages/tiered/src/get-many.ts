import { randomUUID } from 'node:crypto'
import { encodeKeyPart, InvalidOptionError, isUnavailable, Lease, parseOptions } from '@cache/client'
import { checkKey, checkSetOptions, type SetOptions } from '@cache/core'
import { track, untrack } from './bookkeeping.js'
import { PKG, REFRESH_LEASE_MS } from './defaults.js'
import { fallback, fetchMany, fill, l1Fresh, unwrap } from './envelope.js'
import {
  manySchema,
  type TieredEntryOptions,
  type TieredGetManyOptions,
  type TieredGetOrSetOptions,
} from './options.js'
import { readOrLease } from './own-write.js'
import { type Computation, fillMiss, keepOffline, serve, withHardTimeout } from './read-through.js'
import {
  type CallOptions,
  callOf,
  channels,
  check,
  counted,
  event,
  type Found,
  fail,
  type TieredState,
  ttlOf,
} from './state.js'
import { write } from './writes.js'

/**
 * getManyOrSet: read-through for a batch of keys with every guarantee of getOrSet, per key. The keys found
 * in no tier are claimed in this process (the flight map getOrSet uses, so overlapping batches and getOrSet
 * calls share one computation per key) and across processes (@cache/core's per-key lease `<ns>:l:{key}`,
 * the very lease getOrSet takes, so waiters are woken by the same notification); the loader is called once
 * with the keys this process won. Keys another process holds are awaited through getOrSet's flight (woken
 * by its notification). Stale keys (within grace) are refreshed under the refresh lease, served per the
 * soft timeout; the hard timeout aborts the loader; fail-safe serves stale values when it fails.
 */

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
interface Job {
  key: string
  part: string
  /** A value within its grace (refreshed under the refresh lease, served per the soft timeout). */
  stale: Found | undefined
  resolve(value: unknown): void
  reject(err: unknown): void
}

/** One call, resolved once. */
interface Batch<T> {
  load: LoadMissing<T>
  options: TieredGetManyOptions<T> | undefined
  call: CallOptions
  ttl: number
  lease: number
  entry: ((key: string, value: T) => TieredEntryOptions | undefined) | undefined
  cacheMisses: number | undefined
  /** The core SetOptions of every entry (tags, dependsOn, keepVersions). */
  setOptions: SetOptions
}

/** Marks a key the loader did not return (inside the getOrSet factory of a taken-over key). */
const NOT_LOADED = Symbol('not loaded')

/**
 * The values of `keys` (a Map in the order of first appearance; keys without a value are absent). The
 * loader is called once with the keys this process computes; it may return fewer (misses).
 */
export async function getManyOrSet<T>(
  st: TieredState,
  keys: readonly string[],
  load: LoadMissing<T>,
  options: TieredGetManyOptions<T> | undefined,
): Promise<Map<string, T>> {
  check(st, 'getManyOrSet')
  if (!Array.isArray(keys)) throw new InvalidOptionError(PKG, 'keys', 'must be an array of strings')
  for (let i = 0; i < keys.length; i++) checkKey(keys[i], `keys.${i}`)
  if (typeof load !== 'function') throw new InvalidOptionError(PKG, 'loadMissing', 'must be a function')
  const b = batchOf(st, load, options)
  const unique = [...new Set(keys)]
  const values = new Map<string, T>()
  const eager: Array<{ key: string; found: Found }> = []
  const now = st.now()
  const rest: string[] = []
  for (const key of unique) {
    const e = l1Fresh(st, key, now)
    if (e === undefined) {
      counted(st, 'l1', 'miss')
      rest.push(key)
      continue
    }
    e.used = true
    counted(st, 'l1', 'hit')
    st.s.saved++
    st.s.bytes += e.size
    values.set(key, e.value as T)
    if (isEager(b.call, now, e)) eager.push({ key, found: { value: e.value, exp: e.exp, ttl: e.ttl } })
  }
  const waits: Array<[string, Promise<T | undefined>]> = []
  if (rest.length > 0) {
    const parts = rest.map((k) => encodeKeyPart(k))
    let found: Array<Found | undefined> | undefined
    try {
      found = await fetchMany(st, rest, parts, b.call.grace)
    } catch (err) {
      if (!b.call.failSafe || !isUnavailable(err)) throw fail(st, err)
    }
    const t = st.now()
    const own: Job[] = []
    for (let i = 0; i < rest.length; i++) {
      const key = rest[i] as string
      let stale: Found | undefined
      if (found === undefined) {
        // Redis is down: an L1 entry logically fresh (unverified) is served; one within grace is stale.
        const e = st.l1.map.get(key)
        if (e !== undefined && t < e.exp) {
          values.set(key, (fallback(st, key, 'redis') as { value: unknown }).value as T)
          continue
        }
        if (e !== undefined && t < e.stale) stale = { value: e.value, exp: e.exp, ttl: e.ttl }
      } else {
        const f = found[i]
        if (f !== undefined && t < f.exp) {
          st.s.saved++
          st.s.bytes += st.l1.map.get(key)?.size ?? 0
          values.set(key, f.value as T)
          if (isEager(b.call, t, f)) eager.push({ key, found: f })
          continue
        }
        if (f !== undefined && t < f.exp + b.call.grace) stale = f
      }
      const flight = claim(st, key, parts[i] as string, stale, own) as Promise<T | undefined>
      waits.push([key, serve(st, key, b.call, stale, flight, found === undefined ? 'l1' : 'l2')])
    }
    if (own.length > 0) void runBatch(st, b, own, found === undefined)
  }
  startEager(st, b, eager)
  const settled = await Promise.allSettled(waits.map(([, p]) => p))
  let error: unknown
  for (const [i, r] of settled.entries()) {
    if (r.status === 'rejected') error ??= r.reason
    else if (r.value !== undefined) values.set((waits[i] as [string, unknown])[0], r.value)
  }
  if (error !== undefined) throw fail(st, error)
  const out = new Map<string, T>()
  for (const key of unique) if (values.has(key)) out.set(key, values.get(key) as T)
  return out
}

/** The call's options, validated once. */
function batchOf<T>(
  st: TieredState,
  load: LoadMissing<T>,
  options: TieredGetManyOptions<T> | undefined,
): Batch<T> {
  const call = callOf(st, options)
  const ttl = ttlOf(st, options)
  const many = options === undefined ? {} : parseOptions(PKG, manySchema, options)
  const {
    grace: _g,
    timeouts: _t,
    eagerRefresh: _e,
    failSafe: _f,
    lease: _l,
    entry: _n,
    cacheMisses: _c,
    ttl: _ttl,
    ...setOptions
  } = options ?? {}
  checkSetOptions(setOptions)
  return {
    load,
    options,
    call,
    ttl,
    lease: many.lease ?? st.l2.options.lease,
    entry: many.entry as Batch<T>['entry'],
    cacheMisses: many.cacheMisses,
    setOptions,
  }
}

/** True when a fresh value is past the eager-refresh point of its TTL. */
function isEager(call: CallOptions, now: number, f: { exp: number; ttl: number }): boolean {
  return call.eager > 0 && now >= f.exp - f.ttl * (1 - call.eager)
}

/**
 * The flight of `key` in this process: the running one (a getOrSet's or another batch's), or a new one
 * this batch owns (added to `own`), registered where getOrSet looks for flights.
 */
function claim(
  st: TieredState,
  key: string,
  part: string,
  stale: Found | undefined,
  own: Job[],
): Promise<unknown> {
  const running = st.flights.get(key)
  if (running) {
    st.s.saved++
    return running
  }
  let resolve: (v: unknown) => void = () => {}
  let reject: (e: unknown) => void = () => {}
  const deferred = new Promise<unknown>((res, rej) => {
    resolve = res
    reject = rej
  })
  const flight: Promise<unknown> = deferred.finally(() => {
    if (st.flights.get(key) === flight) st.flights.delete(key)
  })
  st.flights.set(key, flight)
  own.push({ key, part, stale, resolve, reject })
  return flight
}

/** Eager refresh of fresh values past the threshold: one background batch under the refresh leases. */
function startEager<T>(st: TieredState, b: Batch<T>, eager: Array<{ key: string; found: Found }>): void {
  const jobs: Job[] = []
  for (const { key, found } of eager) {
    if (st.flights.has(key)) continue
    claim(st, key, encodeKeyPart(key), found, jobs).catch((error) =>
      event(st, 'refresh-error', channels.refreshError, { key, error }),
    )
  }
  if (jobs.length > 0) void runBatch(st, b, jobs, false)
}

/**
 * Computes the jobs of one batch: takes the per-key leases (for a miss with get-or-lease.lua, which also
 * returns a value another process stored since our read; the refresh lease for stale values), hands keys
 * another process holds to getOrSet's waiting flight, calls the loader once for the keys it won and stores
 * what it returned. Never rejects: every job is settled.
 */
async function runBatch<T>(st: TieredState, b: Batch<T>, jobs: Job[], down: boolean): Promise<void> {
  const handed = new Set<Job>()
  try {
    if (down) {
      await loadOffline(st, b, jobs)
      return
    }
    let todo = jobs
    if (b.cacheMisses !== undefined) todo = await skipRemembered(st, todo)
    const leases = new Map<Job, Lease>()
    // A miss: the value another process stored since our read, or the lease, in one script (no re-read).
    const meanwhile = new Map<Job, Found>()
    const tries = await Promise.allSettled(
      todo.map(async (j) => {
        const key = j.stale ? st.keys.refreshLease(j.part) : st.l2.keys.lease(j.part)
        if (!j.stale) {
          const token = randomUUID()
          const flight = track(st, j.part)
          try {
            const read = await readOrLease(st, j.key, j.part, token, b.lease)
            if (read.leased) return void leases.set(j, new Lease(st.conn, key, { ttl: b.lease, token }))
            if (read.raw === undefined) return
            const f = unwrap(st, read.raw)
            if (st.now() < f.exp) {
              if (!flight.dirty) fill(st, j.key, j.part, f, b.call.grace)
              return void meanwhile.set(j, f)
            }
          } finally {
            untrack(st, j.part, flight)
          }
          // An expired leftover (kept for another reader's grace): replace it under the lease.
        }
        const lease = new Lease(st.conn, key, { ttl: j.stale ? REFRESH_LEASE_MS : b.lease })
        if (await lease.acquire()) leases.set(j, lease)
      }),
    )
    const failed = tries.find((r) => r.status === 'rejected')
    if (failed) {
      await Promise.all([...leases.values()].map((l) => l.release().catch(() => {})))
      if (b.call.failSafe && isUnavailable(failed.reason)) {
        await loadOffline(st, b, todo)
        return
      }
      throw failed.reason
    }
    for (const [j, f] of meanwhile) {
      handed.add(j)
      st.s.saved++
      j.resolve(f.value)
    }
    for (const j of todo) {
      if (leases.has(j) || meanwhile.has(j)) continue
      handed.add(j)
      if (j.stale) {
        // Another process refreshes it: keep serving the stale value.
        st.s.saved++
        j.resolve(j.stale.value)
      } else awaitElsewhere(st, b, j)
    }
    const mine = todo.filter((j) => leases.has(j))
    if (mine.length > 0) await loadAndStore(st, b, mine, leases)
  } catch (err) {
    for (const j of jobs) if (!handed.has(j)) j.reject(err)
  }
}

/** Settles (as misses) the jobs whose key is remembered as absent (`cacheMisses`); returns the others. */
async function skipRemembered(st: TieredState, jobs: Job[]): Promise<Job[]> {
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
async function remembered(st: TieredState, part: string): Promise<boolean> {
  const key = st.keys.miss(part)
  return Number(await st.conn.send(['EXISTS', key], { key })) === 1
}

/** Remembers that the loader did not return a key, for `cacheMisses`. */
async function remember(st: TieredState, part: string, ms: number): Promise<void> {
  const key = st.keys.miss(part)
  await st.conn.send(['SET', key, '1', 'PX', String(ms)], { key })
}

/** The notification getOrSet waiters of other processes wake on (`d:<part>` done, `e:<part>:<Name>`). */
function notice(st: TieredState, j: Job, kind: 'd' | 'e', err?: unknown) {
  if (j.stale) return undefined
  if (kind === 'd') return { channel: st.l2.keys.channel, message: `d:${j.part}` }
  // Only the error's name crosses processes (as in @cache/core's getOrSet): ':' would break the framing.
  const name = (err instanceof Error ? err.name : typeof err).replace(/[^A-Za-z0-9_$.-]/g, '') || 'Error'
  return { channel: st.l2.keys.channel, message: `e:${j.part}:${name}` }
}

/** Calls the loader once (hard timeout, abort signal) for the jobs' keys. */
async function callLoader<T>(
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
function entryWrite<T>(st: TieredState, b: Batch<T>, key: string, value: T) {
  const own = b.entry?.(key, value)
  if (own === undefined) return { ttl: b.ttl, options: b.setOptions }
  const { ttl: _ttl, ...rest } = own
  return { ttl: own.ttl === undefined ? b.ttl : ttlOf(st, own), options: { ...b.setOptions, ...rest } }
}

/** The lease holder's part: loads, stores each value (every tier, coherence), releases and notifies. */
async function loadAndStore<T>(
  st: TieredState,
  b: Batch<T>,
  mine: Job[],
  leases: Map<Job, Lease>,
): Promise<void> {
  const stops = mine.map((j) => (leases.get(j) as Lease).keepAlive())
  const release = (j: Job, kind: 'd' | 'e', err?: unknown) =>
    (leases.get(j) as Lease).release(notice(st, j, kind, err)).catch(() => {})
  let pick: (key: string) => T | undefined
  try {
    pick = await callLoader(st, b, mine)
  } catch (err) {
    for (const stop of stops) stop()
    await Promise.all(mine.map((j) => release(j, 'e', err)))
    for (const j of mine) j.reject(err)
    return
  }
  await Promise.all(
    mine.map(async (j) => {
      const value = pick(j.key)
      try {
        if (value === undefined) {
          if (b.cacheMisses !== undefined) await remember(st, j.part, b.cacheMisses)
          j.resolve(undefined)
          return
        }
        const { ttl, options } = entryWrite(st, b, j.key, value)
        await write(st, { key: j.key, value, ttl, options, nx: false, grace: b.call.grace })
        j.resolve(value)
      } catch (err) {
        j.reject(err)
      } finally {
        await release(j, 'd')
      }
    }),
  )
  for (const stop of stops) stop()
}

/**
 * A miss whose lease another process holds: getOrSet's flight waits for its notification (or the poll)
 * and reads the value it stored; should that process die, the lease expires and this one loads the key.
 */
function awaitElsewhere<T>(st: TieredState, b: Batch<T>, j: Job): void {
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
async function loadOffline<T>(st: TieredState, b: Batch<T>, jobs: Job[]): Promise<void> {
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
