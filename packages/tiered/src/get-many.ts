import { InvalidOptionError } from '@cache/client'
import type { MsetEntry, SetOptions } from '@cache/core'
import { PKG } from './defaults.js'
import { mget } from './reads.js'
import { check, type TieredState, ttlOf } from './state.js'
import { mset } from './writes.js'

/** The loader of getManyOrSet: the values of the keys found in no tier. */
export type LoadMissing<T> = (
  keys: string[],
) => Promise<Map<string, T> | Record<string, T>> | Map<string, T> | Record<string, T>

/**
 * Values of several keys; `loadMissing` is called once with only the keys found in no tier and must
 * return their values (a Map or a record); those are stored and returned in order.
 */
export async function getManyOrSet<T>(
  st: TieredState,
  keys: readonly string[],
  loadMissing: LoadMissing<T>,
  options: SetOptions | undefined,
): Promise<Array<T | undefined>> {
  check(st, 'getManyOrSet')
  if (typeof loadMissing !== 'function')
    throw new InvalidOptionError(PKG, 'loadMissing', 'must be a function')
  if (options?.ttl !== undefined) ttlOf(st, options)
  const values = await mget<T>(st, keys)
  const missing = [...new Set(keys.filter((_, i) => values[i] === undefined))]
  st.s.saved += keys.length - missing.length
  if (missing.length === 0) return values
  st.s.factoryCalls++
  const loaded = await loadMissing(missing)
  const get = (k: string): T | undefined =>
    loaded instanceof Map
      ? loaded.get(k)
      : Object.hasOwn(loaded, k)
        ? (loaded as Record<string, T>)[k]
        : undefined
  const entries: Array<MsetEntry<T>> = []
  for (const k of missing) {
    const v = get(k)
    if (v !== undefined) entries.push({ key: k, value: v })
  }
  if (entries.length > 0) await mset(st, entries, options)
  return keys.map((k, i) => (values[i] !== undefined ? values[i] : get(k)))
}
