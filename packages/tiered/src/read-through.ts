import { randomUUID } from 'node:crypto'
import {
  encodeKeyPart,
  InvalidOptionError,
  isCacheError,
  isUnavailable,
  Lease,
  parseOptions,
  zDuration,
} from '@cache/client'
import { checkKey, checkSetOptions, EncodeError, type SetOptions } from '@cache/core'
import { track, untrack } from './bookkeeping.js'
import { PKG, REFRESH_LEASE_MS } from './defaults.js'
import { fallback, fetch, fill, l2Ttl, unwrap } from './envelope.js'
import { FactoryTimeoutError } from './errors.js'
import type { TieredGetOrSetOptions } from './options.js'
import { type HeldLease, readOrLease, writeOwn } from './own-write.js'
import {
  type CallOptions,
  callOf,
  channels,
  check,
  counted,
  type Envelope,
  event,
  type Found,
  fail,
  type Tier,
  type TieredState,
  ttlOf,
} from './state.js'
import type { TieredFactory } from './types.js'
import { keepOwnWrite, offlineWrite, publish, write } from './writes.js'

/** Read-through: getOrSet past the L1 hot path, with grace, soft/hard timeouts, the refresh lease, fail-safe. */

/** One read-through computation (was `#compute`'s nine positional parameters). */
export interface Computation<T> {
  key: string
  /** The escaped key (hash-tag content). */
  part: string
  factory: TieredFactory<T>
  options: TieredGetOrSetOptions | undefined
  ttl: number
  call: CallOptions
  /** A value within its grace, served while the factory runs (or when it fails, with fail-safe). */
  stale: Found | undefined
  /** Redis is unavailable: compute here and queue the write. */
  down: boolean
  /** An expired leftover (kept in Redis for another reader's longer grace) is in L2: replace it. */
  leftover: boolean
  /** The getOrSet lease this call took with its read (a miss): compute here, never join another flight. */
  lease?: HeldLease
}

/** getOrSet() after an L1 miss. */
export async function getOrSetSlow<T>(
  st: TieredState,
  key: string,
  factory: TieredFactory<T>,
  options: TieredGetOrSetOptions | undefined,
): Promise<T> {
  check(st, 'getOrSet')
  checkKey(key)
  if (typeof factory !== 'function') throw new InvalidOptionError(PKG, 'factory', 'must be a function')
  const ttl = ttlOf(st, options)
  const call = callOf(st, options)
  checkSetOptions(options)
  counted(st, 'l1', 'miss')
  const part = encodeKeyPart(key)
  let stale: Found | undefined
  let down = false
  let leftover = false
  let lease: HeldLease | undefined
  try {
    let found: Found | undefined
    // One round trip for the read and, on a miss, the lease (no L3 to look into in between, no flight here
    // to join); the lease holder then stores, indexes and releases in one more.
    if (st.l3 === undefined && !st.flights.has(key)) {
      ;({ found, lease } = await fetchOrLease(st, key, part, call.grace, leaseOf(st, options)))
    } else found = await fetch(st, key, part, call.grace)
    const now = st.now()
    if (found !== undefined && now < found.exp) {
      st.s.saved++
      st.s.bytes += st.l1.map.get(key)?.size ?? 0
      if (call.eager > 0 && now >= found.exp - found.ttl * (1 - call.eager) && !st.flights.has(key)) {
        eagerRefresh(st, key, factory, options, found)
      }
      return found.value as T
    }
    if (found !== undefined && now < found.exp + call.grace) stale = found
    // An expired leftover (kept in Redis for another reader's longer grace) must be replaced, not returned.
    else if (found !== undefined) leftover = true
  } catch (err) {
    if (!call.failSafe || !isUnavailable(err)) throw fail(st, err)
    down = true
    const e = st.l1.map.get(key)
    if (e !== undefined && st.now() < e.exp) {
      // Logically fresh but unverified (Redis down): serve it.
      return (fallback(st, key, 'redis') as { value: unknown }).value as T
    }
    if (e !== undefined && st.now() < e.stale) stale = { value: e.value, exp: e.exp, ttl: e.ttl }
  }
  return compute(st, { key, part, factory, options, ttl, call, stale, down, leftover, lease })
}

/** The getOrSet lease length of a call (its `lease` option, or the L2 RedisCache's). */
function leaseOf(st: TieredState, options: TieredGetOrSetOptions | undefined): number {
  if (options?.lease === undefined) return st.l2.options.lease
  return parseOptions(PKG, zDuration({ min: 100, max: 300_000 }), options.lease, 'lease')
}

/**
 * `fetch()` of L2 as get-or-lease.lua: the value (filling L1 unless an invalidation raced with the read),
 * or, on a miss, the getOrSet lease when nobody holds it.
 */
async function fetchOrLease(
  st: TieredState,
  key: string,
  part: string,
  grace: number,
  leaseMs: number,
): Promise<{ found: Found | undefined; lease: HeldLease | undefined }> {
  const flight = track(st, part)
  try {
    const token = randomUUID()
    let read: Awaited<ReturnType<typeof readOrLease>>
    try {
      read = await readOrLease(st, key, part, token, leaseMs)
    } catch (err) {
      st.s.l2Errors++
      throw err
    }
    if (read.raw === undefined) {
      counted(st, 'l2', 'miss')
      if (!read.leased) return { found: undefined, lease: undefined }
      const notice = { channel: st.l2.keys.channel, message: `d:${part}` }
      return { found: undefined, lease: { key: st.l2.keys.lease(part), token, ttl: leaseMs, notice } }
    }
    counted(st, 'l2', 'hit')
    const found = unwrap(st, read.raw)
    if (!flight.dirty) fill(st, key, part, found, grace)
    return { found, lease: undefined }
  } finally {
    untrack(st, part, flight)
  }
}

/** Refreshes a value in the background before it expires (`eagerRefresh`). */
export function eagerRefresh<T>(
  st: TieredState,
  key: string,
  factory: TieredFactory<T>,
  options: TieredGetOrSetOptions | undefined,
  current: Found,
): void {
  let ttl: number
  let call: CallOptions
  try {
    ttl = ttlOf(st, options)
    call = callOf(st, options)
  } catch {
    return
  }
  const part = encodeKeyPart(key)
  const c: Computation<T> = {
    key,
    part,
    factory,
    options,
    ttl,
    call,
    stale: current,
    down: false,
    leftover: false,
  }
  const flight = refresh(st, c).finally(() => st.flights.delete(key))
  st.flights.set(key, flight)
  flight.catch((error) => event(st, 'refresh-error', channels.refreshError, { key, error }))
}

/** Joins or starts the one flight of a key, serving the stale value per grace and the soft timeout. */
async function compute<T>(st: TieredState, c: Computation<T>): Promise<T> {
  const { key } = c
  const start = (): Promise<T> => {
    const own: Promise<T> = (
      c.lease
        ? fillLeased(st, c)
        : c.down
          ? offlineCompute(st, c)
          : c.stale || c.leftover
            ? refresh(st, c)
            : fillMiss(st, c)
    ).finally(() => {
      if (st.flights.get(key) === own) st.flights.delete(key)
    }) as Promise<T>
    st.flights.set(key, own)
    return own
  }
  // Holding the lease, this call computes: a flight started meanwhile waits on that lease (its notification).
  const joined = c.lease ? undefined : (st.flights.get(key) as Promise<T | undefined> | undefined)
  let flight: Promise<T>
  if (joined) {
    st.s.saved++
    // A getManyOrSet flight resolves undefined for a key its loader did not return: compute it here then.
    flight = joined.then((v) =>
      v === undefined ? ((st.flights.get(key) as Promise<T> | undefined) ?? start()) : v,
    )
  } else flight = start()
  return serve(st, key, c.call, c.stale, flight, c.down ? 'l1' : 'l2')
}

/**
 * The value of one key once its flight settles; with a stale value at hand, that value per grace (at once
 * when there is no soft timeout), past the soft timeout, and on failure with fail-safe.
 */
export async function serve<T>(
  st: TieredState,
  key: string,
  call: CallOptions,
  stale: Found | undefined,
  flight: Promise<T>,
  tier: Tier = 'l2',
): Promise<T> {
  if (stale === undefined) return flight
  flight.catch((error) => event(st, 'refresh-error', channels.refreshError, { key, error }))
  const serveStale = (reason: string): T => {
    counted(st, tier, 'stale')
    if (reason !== 'grace') event(st, 'fail-safe', channels.failSafe, { key, reason })
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
    if (call.failSafe) return serveStale(isCacheError(err, 'E_FACTORY_TIMEOUT') ? 'hard-timeout' : 'factory')
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** Runs the factory with the hard timeout and an AbortSignal. */
function run<T>(st: TieredState, c: Computation<T>, stale: Found | undefined): Promise<T> {
  const { key, factory, call } = c
  st.s.factoryCalls++
  return withHardTimeout(st, key, call.hard, (signal) => factory({ key, signal, stale: stale?.value }))
}

/**
 * Runs `work` with an AbortSignal (aborted on close), rejecting with E_FACTORY_TIMEOUT (and aborting) after
 * `hard` ms (0: no limit). `label` names the key(s) in the error.
 */
export function withHardTimeout<T>(
  st: TieredState,
  label: string,
  hard: number,
  work: (signal: AbortSignal) => T | Promise<T>,
  op = 'getOrSet',
): Promise<T> {
  const controller = new AbortController()
  st.aborts.add(controller)
  let result: Promise<T>
  try {
    result = Promise.resolve(work(controller.signal))
  } catch (err) {
    result = Promise.reject(err)
  }
  if (hard === 0) return result.finally(() => st.aborts.delete(controller))
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new FactoryTimeoutError(label, hard, op)
      controller.abort(err)
      reject(err)
    }, hard)
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
  }).finally(() => st.aborts.delete(controller))
}

/** A miss with Redis up: one factory call across processes (RedisCache's lease). */
export async function fillMiss<T>(st: TieredState, c: Computation<T>): Promise<T> {
  const { key, part, options, ttl, call } = c
  let called = false
  let env: Envelope | undefined
  const flight = track(st, part)
  try {
    const { grace: _g, timeouts: _t, eagerRefresh: _e, failSafe: _f, ...l2Options } = options ?? {}
    let raw: unknown
    try {
      raw = await st.l2.getOrSet(
        key,
        async () => {
          called = true
          const value = await run(st, c, undefined)
          if (value === undefined) throw new EncodeError('undefined cannot be cached', { key })
          env = [value, st.now() + ttl, ttl]
          return env
        },
        { ...l2Options, ttl: l2Ttl(st, ttl, call.grace) },
      )
    } catch (err) {
      if (called || !call.failSafe || !isUnavailable(err)) throw err
      // Redis went away between the read and the lease: compute locally.
      return await offlineCompute(st, { ...c, stale: undefined })
    }
    if (!called) st.s.saved++
    else st.s.sets++
    const found = unwrap(st, raw)
    if (called && st.l3 && env) {
      // With its tags and dependencies, as set() writes L3: an invalidation must reach this copy too.
      const { lease: _l, keepVersions: _k, ...l3Options } = l2Options
      await st.l3.set(key, env, { ...l3Options, ttl: l2Ttl(st, ttl, call.grace) }).catch((err) => {
        st.s.l3Errors++
        st.events.emit('problem', err)
      })
    }
    if (called) keepOwnWrite(st, key, part, found, call.grace, flight)
    else if (!flight.dirty) fill(st, key, part, found, call.grace)
    if (called) await publish(st, [part])
    return found.value as T
  } finally {
    untrack(st, part, flight)
  }
}

/**
 * A miss whose lease this call took with its read: runs the factory (renewing the lease), then stores the
 * value, its indexes and the lease release with its notification in one round trip on the tracker (kept in
 * L1: no echo, no re-read); without a tracker, through the L2 RedisCache and then the release.
 */
async function fillLeased<T>(st: TieredState, c: Computation<T>): Promise<T> {
  const { key, part, options, ttl, call } = c
  const held = c.lease as HeldLease
  const lease = new Lease(st.conn, held.key, { ttl: held.ttl, token: held.token })
  const stop = lease.keepAlive()
  const flight = track(st, part)
  try {
    let value: T
    try {
      value = await run(st, c, undefined)
      if (value === undefined) throw new EncodeError('undefined cannot be cached', { key })
    } catch (err) {
      stop()
      // Only the error's name crosses processes (as in @cache/core's getOrSet): ':' would break the framing.
      const name = (err instanceof Error ? err.name : typeof err).replace(/[^A-Za-z0-9_$.-]/g, '') || 'Error'
      await lease.release({ channel: held.notice.channel, message: `e:${part}:${name}` }).catch(() => {})
      throw err
    }
    const {
      grace: _g,
      timeouts: _t,
      eagerRefresh: _e,
      failSafe: _f,
      lease: _l,
      ...setOptions
    } = options ?? {}
    const env: Envelope = [value, st.now() + ttl, ttl]
    const redisTtl = l2Ttl(st, ttl, call.grace)
    let kept = false
    try {
      const own = await writeOwn(st, {
        key,
        part,
        env,
        ttl: redisTtl,
        options: setOptions,
        nx: false,
        lease: held,
      })
      if (own !== undefined) kept = true
      else {
        await st.l2.set(key, env, { ...setOptions, ttl: redisTtl })
        await lease.release(held.notice).catch(() => {})
      }
    } catch (err) {
      await lease.release(held.notice).catch(() => {})
      throw fail(st, err)
    } finally {
      stop()
    }
    st.s.sets++
    keepOwnWrite(st, key, part, { value, exp: env[1], ttl }, call.grace, flight, kept)
    await publish(st, [part])
    return value
  } finally {
    untrack(st, part, flight)
  }
}

/**
 * A stale value is at hand: one process (the owner of the refresh lease, a shared owner-checked Lease)
 * recomputes; others keep the stale value. A factory running past the lease cannot delete the next
 * holder's lease.
 */
async function refresh<T>(st: TieredState, c: Computation<T>): Promise<T> {
  const { key, options, ttl, call, stale } = c
  const lease = new Lease(st.conn, st.keys.refreshLease(c.part), { ttl: REFRESH_LEASE_MS })
  let got: boolean
  try {
    got = await lease.acquire()
  } catch (err) {
    if (!isUnavailable(err)) throw err
    return offlineCompute(st, c)
  }
  if (!got && stale) {
    st.s.saved++
    return stale.value as T
  }
  try {
    const value = await run(st, c, stale)
    const {
      grace: _g,
      timeouts: _t,
      eagerRefresh: _e,
      failSafe: _f,
      lease: _l,
      ...setOptions
    } = options ?? {}
    await write(st, { key, value, ttl, options: setOptions, nx: false, grace: call.grace })
    return value
  } finally {
    if (got) await lease.release().catch(() => {})
  }
}

/** Redis is down: compute here and keep the value in L1 (queued for L2 per `offlineWrites`). */
async function offlineCompute<T>(st: TieredState, c: Computation<T>): Promise<T> {
  const value = await run(st, c, c.stale)
  keepOffline(st, c.key, c.part, value, c.ttl, c.call.grace, undefined)
  return value
}

/** A value computed while Redis is down: kept in L1 and queued for L2 (per `offlineWrites`). */
export function keepOffline(
  st: TieredState,
  key: string,
  part: string,
  value: unknown,
  ttl: number,
  grace: number,
  options: SetOptions | undefined,
): void {
  const env: Envelope = [value, st.now() + ttl, ttl]
  fill(st, key, part, { value, exp: env[1], ttl }, grace)
  offlineWrite(st, key, { kind: 'set', env, options: { ...options, ttl: l2Ttl(st, ttl, grace) } })
}
