import { createHash } from 'node:crypto'
import { type Arg, isCacheError, type LeaseNotice, withDeadline } from '@cache/client'
import {
  checkSetOptions,
  DecodeError,
  defaultCodec,
  EncodeError,
  type SetOptions,
  ValueTooLargeError,
} from '@cache/core'
import type { Tracker } from './coherence.js'
import * as lua from './scripts/index.js'
import type { Envelope, TieredState } from './state.js'

/**
 * Own writes: a value this process stores and keeps in its L1. Under tracking they go over the NOLOOP tracker
 * of the key's master (a plain SET, pipelined with one script for the tag/dependency indexes and the getOrSet
 * lease release: one round trip), so the server does not echo them back to this process while it still tells
 * us about any other client's write; and the getOrSet read that takes the lease when there is no value.
 */

const INDEX_RELEASE_SHA = createHash('sha1').update(lua.indexRelease).digest('hex')

/** The getOrSet lease an own write releases (with its notification) once the value is stored. */
export interface HeldLease {
  key: string
  token: string
  /** Its length (ms). */
  ttl: number
  notice: LeaseNotice
}

/** One own write. */
export interface OwnWrite {
  key: string
  /** The key's escaped part (the caller has it: not escaped again). */
  part: string
  env: Envelope
  /** The Redis TTL (ms): the value's TTL plus the grace that may still serve it. */
  ttl: number
  options: SetOptions | undefined
  /** Only when absent (setIfAbsent). */
  nx: boolean
  lease?: HeldLease
}

/** Encodes an envelope as the L2 RedisCache would (its codec, its size limit, its errors). */
export function encodeL2(st: TieredState, key: string, rk: string, env: Envelope): Buffer {
  const codec = st.l2.options.codec ?? defaultCodec
  let bytes: Buffer
  try {
    bytes = codec.encode(env, codec === defaultCodec ? undefined : { key: rk })
  } catch (err) {
    if (isCacheError(err, 'E_ENCODE'))
      throw new EncodeError(err.message.replace(/^.*?: /, ''), { key, cause: err })
    if (isCacheError(err)) throw err
    throw new EncodeError(String(err), { key, cause: err })
  }
  if (bytes.length > st.l2.options.maxValueBytes) {
    throw new ValueTooLargeError(key, bytes.length, st.l2.options.maxValueBytes)
  }
  return bytes
}

/** Decodes an L2 value as the L2 RedisCache would (typed codec errors kept, others as E_DECODE). */
export function decodeL2(st: TieredState, key: string, rk: string, raw: Buffer | null): unknown {
  if (raw === null || raw === undefined) return undefined
  const codec = st.l2.options.codec ?? defaultCodec
  try {
    return codec.decode(raw, codec === defaultCodec ? undefined : { key: rk })
  } catch (err) {
    if (isCacheError(err) && err.code !== 'E_DECODE') throw err
    throw new DecodeError(
      isCacheError(err)
        ? err.message.replace(/^.*?: /, '')
        : `the codec threw ${(err as Error)?.name ?? typeof err}`,
      { key },
    )
  }
}

/** The index sets (tags, then dependencies) of a write, deduplicated. */
export function indexesOf(st: TieredState, options: SetOptions | undefined): string[] {
  const keys = st.l2.keys
  const out: string[] = []
  if (options?.tags) for (const t of new Set(options.tags)) out.push(keys.tag(t))
  if (options?.dependsOn) for (const d of new Set(options.dependsOn)) out.push(keys.dependants(keys.part(d)))
  return out
}

/**
 * A command on a raw tracker connection, bounded by the connection's command timeout: one timer and one
 * promise (every own write pays it; a Promise.race with a timeout promise and a finally() cost more).
 */
export function onTracker<R>(st: TieredState, tracker: Tracker, args: Arg[]): Promise<R> {
  const ms = st.conn.config.commandTimeoutMs
  const reply = tracker.sendCommand(args as Array<string | Buffer>) as Promise<R>
  return ms > 0 ? withDeadline(reply, ms, `tracker ${String(args[0])}`) : reply
}

/** A script on the tracker (EVALSHA, EVAL when the server does not know it yet). */
export async function scriptOnTracker<R>(
  st: TieredState,
  tracker: Tracker,
  script: { sha: string; source: string },
  keys: string[],
  args: Arg[],
): Promise<R> {
  const tail: Arg[] = [String(keys.length), ...keys, ...args]
  try {
    return await onTracker<R>(st, tracker, ['EVALSHA', script.sha, ...tail])
  } catch (err) {
    if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err
    return onTracker<R>(st, tracker, ['EVAL', script.source, ...tail])
  }
}

const INDEX_RELEASE = { sha: INDEX_RELEASE_SHA, source: lua.indexRelease }

/** index-release.lua on the tracker. */
function indexRelease(st: TieredState, tracker: Tracker, keys: string[], args: Arg[]): Promise<number> {
  return scriptOnTracker<number>(st, tracker, INDEX_RELEASE, keys, args)
}

/**
 * Stores an own write on the tracker: true when stored, false when not (setIfAbsent found a value), or
 * undefined when this path does not apply (no tracker now, versions kept) or the tracker failed — the
 * caller then writes through the L2 RedisCache and, under tracking, does not keep the value in L1.
 * Off Cluster, the value, its indexes and the lease release are one pipelined round trip on one connection
 * (so in that order); on a Cluster the indexes live in other slots and are added after the SET, as
 * @cache/core writes (store first, index second: an invalidation popping an index in between finds the key
 * in the next one). A lease is only released by a plain write (getOrSet never stores with setIfAbsent).
 */
export async function writeOwn(st: TieredState, w: OwnWrite): Promise<boolean | undefined> {
  if (st.co.writer === undefined || (w.options?.keepVersions ?? 0) > 0) return undefined
  checkSetOptions(w.options)
  const rk = st.l2.keys.valueOf(w.part)
  const tracker = st.co.writer(rk)
  if (tracker === undefined) return undefined
  const bytes = encodeL2(st, w.key, rk, w.env)
  const indexes = indexesOf(st, w.options)
  const later = st.conn.topology === 'cluster' || w.nx ? indexes : []
  const now = later.length > 0 ? [] : indexes
  const set: Arg[] = ['SET', rk, bytes, 'PX', String(w.ttl)]
  if (w.nx) set.push('NX')
  const lease = w.nx ? undefined : w.lease
  const tail: Arg[] = [String(w.ttl), rk, lease?.notice.channel ?? '', lease?.notice.message ?? '']
  let stored: boolean
  try {
    const keys = lease ? [lease.key, ...now] : now
    const reply = onTracker<string | null>(st, tracker, set)
    // A plain write (no index, no lease) awaits its SET alone: no Promise.all and its array on every call.
    stored =
      (keys.length > 0
        ? (await Promise.all([reply, indexRelease(st, tracker, keys, [lease?.token ?? '', ...tail])]))[0]
        : await reply) === 'OK'
  } catch (err) {
    // A MOVED or READONLY reply (a slot moved, a demoted master) or a timeout: the write may still land
    // later, after writes on other connections; the tracker is rebuilt and L1 revalidated.
    st.co.writerFailed?.(tracker, err)
    return undefined
  }
  if (stored && later.length > 0) {
    await Promise.all(later.map((ix) => st.scripts.indexRelease([ix], ['', ...tail])))
  }
  return stored
}

/** What the getOrSet read found: the raw value, or whether it took the lease. */
export interface ReadOrLease {
  raw: unknown
  leased: boolean
}

/**
 * The getOrSet read of a miss path: the value (decoded), or, when there is none, the getOrSet lease taken
 * with `token` — one round trip where a GET and then SET NX were two.
 */
export async function readOrLease(
  st: TieredState,
  key: string,
  part: string,
  token: string,
  leaseMs: number,
): Promise<ReadOrLease> {
  const rk = st.l2.keys.valueOf(part)
  const [raw, leased] = await st.scripts.getOrLease([rk, st.l2.keys.lease(part)], [token, leaseMs])
  return { raw: decodeL2(st, key, rk, raw), leased: Number(leased) === 1 }
}
