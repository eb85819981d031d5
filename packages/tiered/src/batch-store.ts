import { createHash } from 'node:crypto'
import { type Arg, isUnavailable, type Lease } from '@cache/client'
import { checkSetOptions, type SetOptions } from '@cache/core'
import { track, untrack } from './bookkeeping.js'
import type { Tracker } from './coherence.js'
import { fill, l2Ttl } from './envelope.js'
import { encodeL2, indexesOf, onTracker, scriptOnTracker } from './own-write.js'
import * as lua from './scripts/index.js'
import { type Envelope, type Flight, fail, type TieredState } from './state.js'
import { keepOwnWrite, offlineWrite, publish, write } from './writes.js'

/**
 * The batched store of getManyOrSet's lease holder (off Cluster, no L3, no kept versions): every loaded
 * value, its index sets and every lease release with its notification in one store-release.lua call per
 * BATCH_STORE_CHUNK keys, where a SET, an index script and a release script per key were three commands
 * each. Under tracking the values go as plain SETs on the NOLOOP tracker pipelined before the script (a key
 * a script writes would be echoed back), so they stay in L1 as a single own write does; otherwise the script
 * stores them on the connection. One publish of all the keys (bus coherence).
 */

/** Most keys in one store-release.lua call (as @cache/core's mset chunks). */
export const BATCH_STORE_CHUNK = 256

const STORE_RELEASE = {
  sha: createHash('sha1').update(lua.storeRelease).digest('hex'),
  source: lua.storeRelease,
}

/** One key the holder loaded: its value (undefined: the loader did not return it) and its lease. */
export interface BatchItem {
  key: string
  part: string
  value: unknown
  ttl: number
  options: SetOptions | undefined
  lease: Lease
}

/** One value to store, encoded. */
interface Planned {
  item: number
  rk: string
  bytes: Buffer
  env: Envelope
  /** The Redis TTL: the value's TTL plus the grace that may still serve it. */
  redisTtl: number
  indexes: string[]
}

/**
 * Stores the loaded values and releases every lease (notifying its waiters); resolves, per item, undefined
 * when it was stored (or needed no store) or the error its caller should reject with. With fail-safe a
 * Redis outage keeps the values in L1 and queues them for L2, as a single write does.
 */
export async function storeMany(st: TieredState, items: BatchItem[], grace: number): Promise<unknown[]> {
  const out: unknown[] = new Array(items.length)
  const chunks: Array<Promise<void>> = []
  for (let i = 0; i < items.length; i += BATCH_STORE_CHUNK) {
    chunks.push(storeChunk(st, items, i, Math.min(items.length, i + BATCH_STORE_CHUNK), grace, out))
  }
  await Promise.all(chunks)
  return out
}

/** Items `from`..`to` (exclusive) in one call. */
async function storeChunk(
  st: TieredState,
  items: BatchItem[],
  from: number,
  to: number,
  grace: number,
  out: unknown[],
): Promise<void> {
  const now = st.now()
  const planned: Planned[] = []
  for (let i = from; i < to; i++) {
    const it = items[i] as BatchItem
    if (it.value === undefined) continue
    try {
      if (it.options !== undefined) checkSetOptions(it.options)
      const env: Envelope = [it.value, now + it.ttl, it.ttl]
      const rk = st.l2.keys.valueOf(it.part)
      const bytes = encodeL2(st, it.key, rk, env)
      planned.push({
        item: i,
        rk,
        bytes,
        env,
        redisTtl: l2Ttl(st, it.ttl, grace),
        indexes: indexesOf(st, it.options),
      })
    } catch (err) {
      out[i] = fail(st, err)
    }
  }
  const tracker = planned.length > 0 ? st.co.writer?.((planned[0] as Planned).rk) : undefined
  const flights = planned.map((p) => track(st, (items[p.item] as BatchItem).part))
  try {
    try {
      await send(st, items, from, to, planned, tracker)
    } catch (err) {
      await recover(st, items, from, to, planned, tracker, grace, err, out)
      return
    }
    const parts: string[] = []
    for (const [x, p] of planned.entries()) {
      const it = items[p.item] as BatchItem
      st.s.sets++
      const found = { value: it.value, exp: p.env[1], ttl: it.ttl }
      keepOwnWrite(st, it.key, it.part, found, grace, flights[x] as Flight, tracker !== undefined)
      parts.push(it.part)
    }
    if (parts.length > 0) await publish(st, parts)
  } finally {
    for (const [x, p] of planned.entries())
      untrack(st, (items[p.item] as BatchItem).part, flights[x] as Flight)
  }
}

/** The store-release.lua call (after the pipelined SETs on the tracker, when there is one). */
async function send(
  st: TieredState,
  items: BatchItem[],
  from: number,
  to: number,
  planned: Planned[],
  tracker: Tracker | undefined,
): Promise<void> {
  const keys: string[] = []
  const args: Arg[] = [String(planned.length), '0', tracker ? '0' : '1', st.l2.keys.channel]
  for (const p of planned) {
    keys.push(p.rk)
    args.push(tracker ? '' : p.bytes, String(p.redisTtl))
  }
  // Index set -> the longest TTL of its members and their positions (1-based) among the value keys.
  const plan = new Map<string, { ttl: number; members: string[] }>()
  for (const [x, p] of planned.entries()) {
    for (const ix of p.indexes) {
      const e = plan.get(ix)
      if (e === undefined) plan.set(ix, { ttl: p.redisTtl, members: [String(x + 1)] })
      else {
        e.members.push(String(x + 1))
        if (p.redisTtl > e.ttl) e.ttl = p.redisTtl
      }
    }
  }
  args[1] = String(plan.size)
  for (const [ix, { ttl, members }] of plan) {
    keys.push(ix)
    args.push(String(ttl), String(members.length), ...members)
  }
  for (let i = from; i < to; i++) {
    const it = items[i] as BatchItem
    keys.push(it.lease.key)
    args.push(it.lease.token, `d:${it.part}`)
  }
  if (tracker === undefined) {
    await st.scripts.storeRelease(keys, args)
    return
  }
  await Promise.all([
    ...planned.map((p) => onTracker<string>(st, tracker, ['SET', p.rk, p.bytes, 'PX', String(p.redisTtl)])),
    scriptOnTracker<number>(st, tracker, STORE_RELEASE, keys, args),
  ])
}

/**
 * The call failed. On the tracker: it may still land later, after writes on other connections; the
 * tracker is rebuilt (L1 revalidated) and each value written as a single write does. Otherwise, with
 * fail-safe and Redis unavailable, the values are kept in L1 and queued; else each item gets the error.
 * The leases are then released (best effort) with their notification.
 */
async function recover(
  st: TieredState,
  items: BatchItem[],
  from: number,
  to: number,
  planned: Planned[],
  tracker: Tracker | undefined,
  grace: number,
  err: unknown,
  out: unknown[],
): Promise<void> {
  if (tracker !== undefined) {
    st.co.writerFailed?.(tracker, err)
    await Promise.all(
      planned.map(async (p) => {
        const it = items[p.item] as BatchItem
        try {
          await write(st, {
            key: it.key,
            value: it.value,
            ttl: it.ttl,
            options: it.options,
            nx: false,
            grace,
          })
        } catch (e) {
          out[p.item] = e
        }
      }),
    )
  } else if (st.options.failSafe && isUnavailable(err)) {
    st.s.l2Errors++
    for (const p of planned) {
      const it = items[p.item] as BatchItem
      offlineWrite(st, it.key, { kind: 'set', env: p.env, options: { ...it.options, ttl: p.redisTtl } })
      fill(st, it.key, it.part, { value: it.value, exp: p.env[1], ttl: it.ttl }, grace)
    }
  } else {
    for (const p of planned) out[p.item] = fail(st, err)
  }
  const channel = st.l2.keys.channel
  const releases: Array<Promise<unknown>> = []
  for (let i = from; i < to; i++) {
    const it = items[i] as BatchItem
    releases.push(it.lease.release({ channel, message: `d:${it.part}` }).catch(() => {}))
  }
  await Promise.all(releases)
}
