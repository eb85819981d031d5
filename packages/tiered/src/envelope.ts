import { type Cache, MAX_TTL_MS, MIN_TTL_MS } from '@cache/core'
import { track, untrack } from './bookkeeping.js'
import {
  channels,
  counted,
  type Envelope,
  event,
  type Flight,
  type Found,
  problem,
  type TieredState,
} from './state.js'

/** The envelope stored in L2/L3, L1 fill from it, and L3 → L2 promotion. */

/** True for an envelope written by a TieredCache (not a plain RedisCache value). */
export function isEnvelope(raw: unknown): raw is Envelope {
  return Array.isArray(raw) && raw.length === 3 && typeof raw[1] === 'number' && typeof raw[2] === 'number'
}

/** A stored value with its logical expiry. */
export function unwrap(st: TieredState, raw: unknown): Found {
  if (isEnvelope(raw)) return { value: raw[0], exp: raw[1], ttl: raw[2] }
  // Written by a plain RedisCache: no logical expiry known, trust it for one L1 period.
  return { value: raw, exp: st.now() + st.l1Ttl, ttl: st.l1Ttl }
}

/** The Redis TTL of a value: its TTL plus the longest grace that may still serve it. */
export function l2Ttl(st: TieredState, ttl: number, grace: number): number {
  return Math.min(MAX_TTL_MS, ttl + Math.max(grace, st.defaults.grace))
}

/** Puts a found value into L1 (unless it is already past every grace, or the namespace is restricted). */
export function fill(st: TieredState, key: string, part: string, found: Found, grace: number): void {
  if (st.options.classification === 'restricted') return
  const now = st.now()
  const stale = found.exp + Math.max(grace, st.defaults.grace)
  if (now >= stale) return
  st.l1.set({
    key,
    part,
    value: found.value,
    exp: found.exp,
    fresh: Math.min(found.exp, now + st.l1Ttl),
    stale,
    ttl: found.ttl,
    gen: st.gen,
  })
}

/** Reads L2, then L3 (promoting hits); fills L1 unless an invalidation raced with the read. */
export async function fetch(
  st: TieredState,
  key: string,
  part: string,
  grace: number,
): Promise<Found | undefined> {
  const flight = track(st, part)
  try {
    let raw: unknown
    try {
      raw = await st.l2.get(key)
    } catch (err) {
      st.s.l2Errors++
      throw err
    }
    if (raw !== undefined) counted(st, 'l2', 'hit')
    else {
      counted(st, 'l2', 'miss')
      if (st.l3) raw = await fromL3(st, key, grace)
    }
    if (raw === undefined) return undefined
    const found = unwrap(st, raw)
    if (!flight.dirty) fill(st, key, part, found, grace)
    return found
  } finally {
    untrack(st, part, flight)
  }
}

/**
 * Reads several keys from L2 in one MGET, then L3 for the L2 misses; fills L1 per key unless an
 * invalidation raced with the read. Rejects (counting an L2 error) when L2 is unreachable.
 */
export async function fetchMany(
  st: TieredState,
  keys: readonly string[],
  parts: readonly string[],
  grace: number,
): Promise<Array<Found | undefined>> {
  const flights = parts.map((p) => track(st, p))
  try {
    let raws: unknown[]
    try {
      raws = await st.l2.mget(keys)
    } catch (err) {
      st.s.l2Errors++
      throw err
    }
    const out: Array<Found | undefined> = new Array(keys.length)
    for (let j = 0; j < keys.length; j++) {
      let raw = raws[j]
      if (raw !== undefined) counted(st, 'l2', 'hit')
      else {
        counted(st, 'l2', 'miss')
        if (st.l3) raw = await fromL3(st, keys[j] as string, grace)
      }
      if (raw === undefined) continue
      const found = unwrap(st, raw)
      if (!(flights[j] as Flight).dirty) fill(st, keys[j] as string, parts[j] as string, found, grace)
      out[j] = found
    }
    return out
  } finally {
    for (let j = 0; j < parts.length; j++) untrack(st, parts[j] as string, flights[j] as Flight)
  }
}

/** Reads L3; a hit is promoted to L2 with the time it has left. */
export async function fromL3(st: TieredState, key: string, grace: number): Promise<unknown> {
  const l3 = st.l3 as Cache<unknown>
  let raw: unknown
  try {
    raw = await l3.get(key)
  } catch (err) {
    st.s.l3Errors++
    problem(st, err)
    return undefined
  }
  if (raw === undefined) {
    counted(st, 'l3', 'miss')
    return undefined
  }
  counted(st, 'l3', 'hit')
  const found = unwrap(st, raw)
  const left = found.exp - st.now()
  if (left > 0 && isEnvelope(raw)) {
    // Promote to L2 with the time it has left (at least the minimum TTL).
    await st.l2.set(key, raw, { ttl: l2Ttl(st, Math.max(MIN_TTL_MS, left), grace) }).catch(() => {})
  }
  return raw
}

/** The L1 entry when it may be served as fresh right now. */
export function l1Fresh(st: TieredState, key: string, now: number) {
  const e = st.l1.map.get(key)
  if (e !== undefined && e.gen === st.gen && st.trusted && now < e.fresh) return e
  return undefined
}

/** L1 fallback while Redis is down: any entry still within its grace period (or fresh). */
export function fallback(st: TieredState, key: string, reason: string): { value: unknown } | undefined {
  const e = st.l1.map.get(key)
  if (e === undefined || st.now() >= e.stale) return undefined
  counted(st, 'l1', 'stale')
  st.s.bytes += e.size
  event(st, 'fail-safe', channels.failSafe, { key, reason })
  return { value: e.value }
}
