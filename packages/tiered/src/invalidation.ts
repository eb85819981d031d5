import { encodeKeyPart, isUnavailable } from '@cache/client'
import { checkKey } from '@cache/core'
import { flushL1, invalidated, patternInvalidated, track, untrack } from './bookkeeping.js'
import { check, fail, type TieredState } from './state.js'
import { offlineWrite, publish } from './writes.js'

/** Invalidation: delete, tags, dependants, patterns and clear, in every tier and every process. */

export async function deleteKey(st: TieredState, key: string): Promise<boolean> {
  check(st, 'delete')
  checkKey(key)
  const part = encodeKeyPart(key)
  const flight = track(st, part)
  flight.dirty = true
  try {
    const local = st.l1.delete(key)
    let existed: boolean
    try {
      existed = await st.l2.delete(key)
    } catch (err) {
      if (!st.options.failSafe || !isUnavailable(err)) throw fail(st, err)
      offlineWrite(st, key, { kind: 'delete' })
      return local
    }
    if (st.l3) await st.l3.delete(key).catch(() => {})
    if (existed) st.s.deletes++
    await publish(st, [part])
    return existed
  } finally {
    untrack(st, part, flight)
  }
}

/** Drops every L1 entry (here) and tells other processes to do the same (bus). */
async function dropAll(st: TieredState): Promise<void> {
  flushL1(st)
  await publish(st, 'all')
}

/**
 * The entries L2 removed (a tag's keys and, level by level, their dependants) leave L1 here and in every
 * other process — and nothing else does: tracking reports each removed key to every process by itself, the
 * bus is told the same escaped parts. Only an L2 that cannot say what it removed makes L1 drop everything.
 */
async function evictRemoved(st: TieredState, parts: readonly string[]): Promise<void> {
  if (parts.length === 0) return
  invalidated(st, parts)
  await publish(st, parts)
}

/** What an invalidation removed: the count and the escaped key parts (`encodeKeyPart`) of those keys. */
export interface Removed {
  removed: number
  parts: string[]
}

export async function invalidateTags(st: TieredState, tags: readonly string[]): Promise<Removed> {
  check(st, 'invalidateTags')
  const { removed, parts } = await st.l2.invalidateTagsDetailed(tags).catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.invalidateTags(tags).catch(() => 0)
  await evictRemoved(st, parts)
  st.s.deletes += removed
  return { removed, parts }
}

export async function invalidate(st: TieredState, key: string): Promise<Removed> {
  check(st, 'invalidate')
  checkKey(key)
  const { removed, parts } = await st.l2.invalidateDetailed(key).catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.invalidate(key).catch(() => 0)
  // The key itself leaves L1 even when L2 no longer had it (an L1 entry may outlive its L2 copy briefly).
  await evictRemoved(st, parts.length > 0 ? parts : [encodeKeyPart(key)])
  st.s.deletes += removed
  return { removed, parts }
}

export async function deletePattern(st: TieredState, glob: string): Promise<number> {
  check(st, 'deletePattern')
  const n = await st.l2.deletePattern(glob).catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.deletePattern(glob).catch(() => 0)
  patternInvalidated(st, glob)
  // Other processes drop the keys matching the pattern, not their whole L1.
  await publish(st, { pattern: glob })
  st.s.deletes += n
  return n
}

export async function clear(st: TieredState): Promise<void> {
  check(st, 'clear')
  await st.l2.clear().catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.clear().catch(() => {})
  st.offline.clear()
  await dropAll(st)
}
