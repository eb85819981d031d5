import { randomUUID } from 'node:crypto'
import { encodeKeyPart, InvalidOptionError, isUnavailable, Lease, parseOptions } from '@cache/client'
import { checkKey, checkSetOptions, type SetOptions } from '@cache/core'
import { type BatchRead, readOrLeaseMany } from './batch-read.js'
import { type BatchItem, storeMany } from './batch-store.js'
import { track, untrack } from './bookkeeping.js'
import { PKG, REFRESH_LEASE_MS } from './defaults.js'
import { fallback, fetchMany, fill, l1Fresh, unwrap } from './envelope.js'
import {
  awaitElsewhere,
  type Batch,
  callLoader,
  entryWrite,
  type Job,
  keepAll,
  type LoadMissing,
  loadOffline,
  notice,
  remember,
  skipRemembered,
} from './get-many-load.js'
import { manySchema, type TieredGetManyOptions } from './options.js'
import { readOrLease } from './own-write.js'
import { serve } from './read-through.js'
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

export type { LoadContext, LoadMissing } from './get-many-load.js'

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
    let reads: BatchRead[] | undefined
    let take: boolean[] = []
    const token = b.batchedRead ? randomUUID() : ''
    try {
      if (b.batchedRead) {
        // A key this process is already computing is only read: its flight is joined below.
        take = rest.map((k) => !st.flights.has(k))
        reads = await readOrLeaseMany(st, rest, parts, take, token, b.lease, b.call.grace)
        found = reads.map((r) => r.found)
      } else found = await fetchMany(st, rest, parts, b.call.grace)
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
      // Holding the lease, this batch computes the key (a flight started meanwhile waits on that lease).
      const read = reads?.[i]
      const held = read?.leased ? token : undefined
      const mine = own.length
      const flight = claim(st, key, parts[i] as string, stale, own, held) as Promise<T | undefined>
      // Missing and leased by another process (this one had no flight of it when read): no re-read.
      if (read !== undefined && take[i] && !read.leased && read.found === undefined && own.length > mine)
        (own[mine] as Job).busy = true
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
  const batchedRead = st.l3 === undefined && many.cacheMisses === undefined
  return {
    load,
    options,
    call,
    ttl,
    lease: many.lease ?? st.l2.options.lease,
    entry: many.entry as Batch<T>['entry'],
    cacheMisses: many.cacheMisses,
    setOptions,
    batchedRead,
    batchedStore: batchedRead && st.conn.topology !== 'cluster',
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
  token?: string,
): Promise<unknown> {
  const running = token === undefined ? st.flights.get(key) : undefined
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
  own.push(
    token === undefined
      ? { key, part, stale, resolve, reject }
      : { key, part, stale, token, resolve, reject },
  )
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
        if (j.token !== undefined)
          return void leases.set(j, new Lease(st.conn, key, { ttl: b.lease, token: j.token }))
        if (j.busy) return
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

/** The lease holder's part: loads, stores each value (every tier, coherence), releases and notifies. */
async function loadAndStore<T>(
  st: TieredState,
  b: Batch<T>,
  mine: Job[],
  leases: Map<Job, Lease>,
): Promise<void> {
  const stop = keepAll(mine.map((j) => leases.get(j) as Lease))
  const release = (j: Job, kind: 'd' | 'e', err?: unknown) =>
    (leases.get(j) as Lease).release(notice(st, j, kind, err)).catch(() => {})
  let pick: (key: string) => T | undefined
  try {
    pick = await callLoader(st, b, mine)
  } catch (err) {
    stop()
    await Promise.all(mine.map((j) => release(j, 'e', err)))
    for (const j of mine) j.reject(err)
    return
  }
  try {
    // Misses (getOrSet leases) go in one batched store; refreshes and kept versions one write each.
    const items: BatchItem[] = []
    const batchedJobs: Job[] = []
    const single: Array<Promise<void>> = []
    for (const j of mine) {
      const value = pick(j.key)
      let w: ReturnType<typeof entryWrite<T>> | undefined
      try {
        w = value === undefined ? undefined : entryWrite(st, b, j.key, value)
      } catch (err) {
        j.reject(err)
        single.push(release(j, 'd').then(() => {}))
        continue
      }
      if (b.batchedStore && !j.stale && !((w?.options.keepVersions ?? 0) as number)) {
        items.push({
          key: j.key,
          part: j.part,
          value,
          ttl: w?.ttl ?? b.ttl,
          options: w?.options,
          lease: leases.get(j) as Lease,
        })
        batchedJobs.push(j)
      } else single.push(storeOne(st, b, j, value, w, release))
    }
    const stored = items.length > 0 ? storeMany(st, items, b.call.grace) : Promise.resolve([])
    const [outcomes] = await Promise.all([stored, ...single])
    for (const [x, j] of batchedJobs.entries()) {
      const err = (outcomes as unknown[])[x]
      if (err !== undefined) j.reject(err)
      else j.resolve((items[x] as BatchItem).value)
    }
  } finally {
    stop()
  }
}

/** Stores one loaded value as a single write (every tier, coherence), then releases its lease. */
async function storeOne<T>(
  st: TieredState,
  b: Batch<T>,
  j: Job,
  value: T | undefined,
  w: { ttl: number; options: SetOptions } | undefined,
  release: (j: Job, kind: 'd') => Promise<unknown>,
): Promise<void> {
  try {
    if (value === undefined || w === undefined) {
      if (b.cacheMisses !== undefined) await remember(st, j.part, b.cacheMisses)
      j.resolve(undefined)
      return
    }
    await write(st, { key: j.key, value, ttl: w.ttl, options: w.options, nx: false, grace: b.call.grace })
    j.resolve(value)
  } catch (err) {
    j.reject(err)
  } finally {
    await release(j, 'd')
  }
}
