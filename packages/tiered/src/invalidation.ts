import { encodeKeyPart, isUnavailable } from '@cache/client'
import { checkKey, globToRegExp } from '@cache/core'
import { flushL1, track, untrack } from './bookkeeping.js'
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

export async function invalidateTags(st: TieredState, tags: readonly string[]): Promise<number> {
  check(st, 'invalidateTags')
  const n = await st.l2.invalidateTags(tags).catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.invalidateTags(tags).catch(() => 0)
  // L1 does not index tags: drop it all (tracking also evicts each removed key in every process).
  if (n > 0) await dropAll(st)
  st.s.deletes += n
  return n
}

export async function invalidate(st: TieredState, key: string): Promise<number> {
  check(st, 'invalidate')
  checkKey(key)
  const n = await st.l2.invalidate(key).catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.invalidate(key).catch(() => 0)
  // L1 does not index dependencies: when anything was removed, drop it all (as for tags).
  if (n > 0) await dropAll(st)
  else st.l1.delete(key)
  st.s.deletes += n
  return n
}

export async function deletePattern(st: TieredState, glob: string): Promise<number> {
  check(st, 'deletePattern')
  const n = await st.l2.deletePattern(glob).catch((err) => {
    throw fail(st, err)
  })
  if (st.l3) await st.l3.deletePattern(glob).catch(() => 0)
  const re = globToRegExp(glob)
  for (const k of [...st.l1.map.keys()]) if (re.test(k)) st.l1.delete(k)
  await publish(st, 'all')
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
