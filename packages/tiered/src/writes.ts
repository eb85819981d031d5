import { type Duration, encodeKeyPart, InvalidOptionError, isUnavailable } from '@cache/client'
import {
  type CacheVersion,
  checkKey,
  EncodeError,
  MIN_TTL_MS,
  type MsetEntry,
  parseTtl,
  type SetOptions,
  VersionNotFoundError,
} from '@cache/core'
import { track, untrack } from './bookkeeping.js'
import type { Change } from './coherence.js'
import { PKG } from './defaults.js'
import { fill, l2Ttl, unwrap } from './envelope.js'
import { writeOwn } from './own-write.js'
import {
  channels,
  check,
  type Envelope,
  event,
  type Flight,
  type Found,
  fail,
  type OfflineWrite,
  problem,
  type TieredState,
  ttlOf,
} from './state.js'

/** Writes: set/mset/expire/rollback through L2 (and L3), the offline queue while Redis is down, and replay. */

/** One write, as `#write` took it. */
export interface Write {
  key: string
  value: unknown
  ttl: number
  options: SetOptions | undefined
  /** Only when absent (setIfAbsent). */
  nx: boolean
  /** The grace the value may be served stale for (extends its Redis TTL). */
  grace: number
}

/**
 * After our own write was acknowledged: keep its value in L1 unless an invalidation for the key arrived
 * meanwhile. Under tracking only a write made on the NOLOOP tracker (`kept`) is kept: a write through the L2
 * RedisCache is echoed back by BCAST, and one deduplicated message per key per event-loop cycle cannot be
 * told apart from a newer write by another client in the same cycle (a counting scheme we tried served
 * stale values under a write/write race), so it is dropped and the next read refills L1 from L2.
 */
export function keepOwnWrite(
  st: TieredState,
  key: string,
  part: string,
  found: Found,
  grace: number,
  flight: Flight,
  kept = false,
): void {
  if (flight.dirty || (st.co.mode === 'tracking' && !kept)) st.l1.delete(key)
  else fill(st, key, part, found, grace)
}

/** Writes L2 (and L3), then L1 unless an invalidation raced with the write; tells the other processes. */
export async function write(st: TieredState, w: Write): Promise<boolean> {
  const { key, value, ttl, options, nx, grace } = w
  if (value === undefined) {
    throw new EncodeError('undefined cannot be cached (a miss reads as undefined)', { key })
  }
  const part = encodeKeyPart(key)
  const now = st.now()
  const env: Envelope = [value, now + ttl, ttl]
  const l2Options: SetOptions = { ...options, ttl: l2Ttl(st, ttl, grace) }
  const flight = track(st, part)
  try {
    let stored = true
    let kept = false
    try {
      const own = await writeOwn(st, { key, part, env, ttl: l2Options.ttl as number, options, nx })
      if (own !== undefined) {
        stored = own
        kept = true
      } else if (nx) stored = await st.l2.setIfAbsent(key, env, l2Options)
      else await st.l2.set(key, env, l2Options)
    } catch (err) {
      if (nx || !st.options.failSafe || !isUnavailable(err)) throw fail(st, err)
      st.s.l2Errors++
      offlineWrite(st, key, { kind: 'set', env, options: l2Options })
      fill(st, key, part, { value, exp: env[1], ttl }, grace)
      return true
    }
    if (!stored) return false
    st.s.sets++
    if (st.l3) {
      const { keepVersions: _k, ...l3Options } = l2Options
      await st.l3.set(key, env, l3Options).catch((err) => {
        st.s.l3Errors++
        st.events.emit('problem', err)
      })
    }
    keepOwnWrite(st, key, part, { value, exp: env[1], ttl }, grace, flight, kept)
    // Only the bus publishes (tracking and none have nothing to tell): no array and no await otherwise.
    if (st.co.publish !== undefined) await publish(st, [part])
    return true
  } finally {
    untrack(st, part, flight)
  }
}

/** Tells the other processes (bus coherence) which keys changed. */
export async function publish(st: TieredState, change: Change): Promise<void> {
  if (st.co.publish === undefined) return
  await st.co.publish(change).catch((err) => problem(st, err))
}

/** Queues a write for replay (or drops it, per `offlineWrites`). */
export function offlineWrite(st: TieredState, key: string, w: OfflineWrite): void {
  const dropped = st.options.offlineWrites === 'drop' || st.options.maxOfflineWrites === 0
  if (!dropped) {
    st.offline.delete(key)
    st.offline.set(key, w)
    while (st.offline.size > st.options.maxOfflineWrites) {
      st.offline.delete(st.offline.keys().next().value as string)
    }
    st.offlineTimer ??= setInterval(() => replay(st), st.options.offlineRetryInterval)
    st.offlineTimer.unref()
  }
  event(st, 'offline-write', channels.offline, { key, dropped })
}

/** Replays writes queued during an outage (last write per key wins). */
export function replay(st: TieredState): void {
  if (st.offline.size === 0 || st.closed || st.replaying) return
  st.replaying = true
  const batch = [...st.offline.entries()]
  void (async () => {
    let count = 0
    try {
      for (const [key, w] of batch) {
        if (st.offline.get(key) !== w) continue
        try {
          if (w.kind === 'set') await st.l2.set(key, w.env, w.options)
          else await st.l2.delete(key)
        } catch {
          return
        }
        if (st.offline.get(key) === w) st.offline.delete(key)
        count++
        await publish(st, [encodeKeyPart(key)])
      }
      if (st.offline.size === 0 && st.offlineTimer) {
        clearInterval(st.offlineTimer)
        st.offlineTimer = undefined
      }
    } finally {
      st.replaying = false
      if (count > 0 && st.events.listenerCount('replayed') > 0) st.events.emit('replayed', { count })
    }
  })()
}

export async function mset<T>(
  st: TieredState,
  entries: ReadonlyArray<MsetEntry<T>>,
  options: SetOptions | undefined,
): Promise<void> {
  check(st, 'mset')
  if (!Array.isArray(entries))
    throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
  const resolved = entries.map(({ key, value, ...own }) => {
    checkKey(key)
    if (value === undefined) throw new EncodeError('undefined cannot be cached', { key })
    const merged = { ...options, ...own }
    return { key, value, ttl: ttlOf(st, merged), merged }
  })
  const t0 = performance.now()
  await Promise.all(
    resolved.map((e) =>
      write(st, { key: e.key, value: e.value, ttl: e.ttl, options: e.merged, nx: false, grace: 0 }),
    ),
  )
  st.latency.since(t0)
}

export async function expire(st: TieredState, key: string, ttl: Duration): Promise<boolean> {
  check(st, 'expire')
  const ms = parseTtl(ttl)
  checkKey(key)
  const raw = await st.l2.get(key).catch((err) => {
    throw fail(st, err)
  })
  if (raw === undefined) return false
  const found = unwrap(st, raw)
  if (st.now() >= found.exp) return false
  await write(st, { key, value: found.value, ttl: ms, options: undefined, nx: false, grace: 0 })
  return true
}

export async function versions<T>(st: TieredState, key: string): Promise<Array<CacheVersion<T>>> {
  check(st, 'versions')
  const history = await st.l2.versions(key)
  return history.map((h) => ({ ...h, value: unwrap(st, h.value).value as T }))
}

/** Writes an older version back with the key's remaining TTL (`remaining()`, or the default). */
export async function rollback(
  st: TieredState,
  key: string,
  version: number,
  remaining: () => Promise<number | undefined>,
): Promise<void> {
  const history = await versions(st, key)
  const found = history.find((v) => v.version === version)
  if (!found) throw new VersionNotFoundError(key, version)
  const ttl = Math.max(MIN_TTL_MS, (await remaining()) ?? st.options.defaultTtl)
  await write(st, {
    key,
    value: found.value,
    ttl,
    options: { keepVersions: history.length },
    nx: false,
    grace: 0,
  })
}
