import { encodeKeyPart, InvalidOptionError, isUnavailable } from '@cache/client'
import { checkKey, type ValueWithTtl } from '@cache/core'
import { PKG } from './defaults.js'
import { fallback, fetch, fetchMany, l1Fresh } from './envelope.js'
import { check, counted, type Found, fail, type TieredState } from './state.js'

/** Reads: get (past the L1 hot path), has, getWithTtl, mget. */

/** get() after an L1 miss: L2, L3, and the L1 fallback while Redis is down. */
export async function getSlow<T>(st: TieredState, key: string): Promise<T | undefined> {
  check(st, 'get')
  checkKey(key)
  counted(st, 'l1', 'miss')
  const t0 = performance.now()
  const part = encodeKeyPart(key)
  try {
    const found = await fetch(st, key, part, 0)
    if (found === undefined || st.now() >= found.exp) return undefined
    st.s.bytes += st.l1.map.get(key)?.size ?? 0
    return found.value as T
  } catch (err) {
    if (st.options.failSafe && isUnavailable(err)) {
      const fb = fallback(st, key, 'redis')
      if (fb) return fb.value as T
    }
    throw fail(st, err)
  } finally {
    st.latency.since(t0)
  }
}

export async function has(st: TieredState, key: string): Promise<boolean> {
  check(st, 'has')
  checkKey(key)
  const now = st.now()
  if (l1Fresh(st, key, now)) return true
  const found = await fetch(st, key, encodeKeyPart(key), 0).catch((err) => {
    throw fail(st, err)
  })
  return found !== undefined && st.now() < found.exp
}

export async function getWithTtl<T>(st: TieredState, key: string): Promise<ValueWithTtl<T> | undefined> {
  check(st, 'getWithTtl')
  checkKey(key)
  const now = st.now()
  const e = l1Fresh(st, key, now)
  if (e) {
    counted(st, 'l1', 'hit')
    return { value: e.value as T, ttl: e.exp - now }
  }
  counted(st, 'l1', 'miss')
  const found = await fetch(st, key, encodeKeyPart(key), 0).catch((err) => {
    throw fail(st, err)
  })
  const left = found === undefined ? 0 : found.exp - st.now()
  if (found === undefined || left <= 0) return undefined
  return { value: found.value as T, ttl: left }
}

export async function mget<T>(st: TieredState, keys: readonly string[]): Promise<Array<T | undefined>> {
  check(st, 'mget')
  if (!Array.isArray(keys)) throw new InvalidOptionError(PKG, 'keys', 'must be an array of strings')
  for (let i = 0; i < keys.length; i++) checkKey(keys[i], `keys.${i}`)
  const now = st.now()
  const out: Array<T | undefined> = new Array(keys.length)
  const missing: number[] = []
  for (let i = 0; i < keys.length; i++) {
    const e = l1Fresh(st, keys[i] as string, now)
    if (e) {
      counted(st, 'l1', 'hit')
      st.s.bytes += e.size
      out[i] = e.value as T
    } else {
      counted(st, 'l1', 'miss')
      missing.push(i)
    }
  }
  if (missing.length === 0) return out
  const t0 = performance.now()
  const mkeys = missing.map((i) => keys[i] as string)
  try {
    let found: Array<Found | undefined>
    try {
      found = await fetchMany(
        st,
        mkeys,
        mkeys.map((k) => encodeKeyPart(k)),
        0,
      )
    } catch (err) {
      if (!st.options.failSafe || !isUnavailable(err)) throw fail(st, err)
      let any = false
      for (const [j, i] of missing.entries()) {
        const fb = fallback(st, mkeys[j] as string, 'redis')
        if (fb) any = true
        out[i] = fb?.value as T | undefined
      }
      if (!any) throw fail(st, err)
      return out
    }
    const now2 = st.now()
    for (let j = 0; j < missing.length; j++) {
      const f = found[j]
      if (f !== undefined && now2 < f.exp) out[missing[j] as number] = f.value as T
    }
    return out
  } finally {
    st.latency.since(t0)
  }
}
