import { hashSlot, Lease } from '@cache/client'
import { track, untrack } from './bookkeeping.js'
import { fill, unwrap } from './envelope.js'
import { decodeL2 } from './own-write.js'
import { counted, type Flight, type Found, type TieredState } from './state.js'

/**
 * The batched read of getManyOrSet (no L3): the values of the keys L1 lacks and the getOrSet lease of every
 * missing one in one mget-or-lease.lua call per BATCH_READ_CHUNK keys (per slot on a Cluster), where an
 * MGET and then a get-or-lease.lua per missing key were two round trips and one command per key. The leases are
 * @cache/core's `<ns>:l:{key}` with one owner token for the batch, so getOrSet waiters in any process wait
 * on them and wake on the same notification.
 */

/** Most keys in one mget-or-lease.lua call (bounds the time one call holds the server and Lua's unpack). */
export const BATCH_READ_CHUNK = 256

/** What the batched read found for one key. */
export interface BatchRead {
  /** The value L2 holds (undefined: none). */
  found: Found | undefined
  /** This call took the key's getOrSet lease (the value was missing and nobody held it). */
  leased: boolean
}

/**
 * Reads `keys` (escaped `parts`) from L2 and takes the lease (owner `token`, `leaseMs` long) of each
 * missing key whose `take` flag is set; fills L1 per key unless an invalidation raced with the read.
 * Rejects (counting an L2 error) when L2 is unreachable; a value that does not decode rejects with its
 * E_DECODE after releasing the leases this call took.
 */
export async function readOrLeaseMany(
  st: TieredState,
  keys: readonly string[],
  parts: readonly string[],
  take: readonly boolean[],
  token: string,
  leaseMs: number,
  grace: number,
): Promise<BatchRead[]> {
  const flights = parts.map((p) => track(st, p))
  try {
    const groups = groupsOf(st, parts)
    let replies: Array<[Array<Buffer | null>, Buffer | string]>
    try {
      replies = await Promise.all(
        groups.map((group) => {
          const n = group.length
          const ks: string[] = new Array(2 * n)
          let flags = ''
          for (let x = 0; x < n; x++) {
            const i = group[x] as number
            const part = parts[i] as string
            ks[x] = st.l2.keys.valueOf(part)
            ks[n + x] = st.l2.keys.lease(part)
            flags += take[i] ? '1' : '0'
          }
          return st.scripts.mgetOrLease(ks, [token, leaseMs, flags]) as Promise<
            [Array<Buffer | null>, Buffer | string]
          >
        }),
      )
    } catch (err) {
      st.s.l2Errors++
      throw err
    }
    const out: BatchRead[] = new Array(keys.length)
    const raws: unknown[] = new Array(keys.length)
    for (let c = 0; c < groups.length; c++) {
      const group = groups[c] as number[]
      const [values, leased] = replies[c] as [Array<Buffer | null>, Buffer | string]
      const flags = typeof leased === 'string' ? Buffer.from(leased) : leased
      for (let x = 0; x < group.length; x++) {
        const i = group[x] as number
        raws[i] = values[x]
        out[i] = { found: undefined, leased: flags[x] === 49 }
      }
    }
    try {
      for (let i = 0; i < keys.length; i++) {
        const raw = raws[i] as Buffer | null | undefined
        if (raw === null || raw === undefined) {
          counted(st, 'l2', 'miss')
          continue
        }
        counted(st, 'l2', 'hit')
        const key = keys[i] as string
        const part = parts[i] as string
        const found = unwrap(st, decodeL2(st, key, st.l2.keys.valueOf(part), raw))
        if (!(flights[i] as Flight).dirty) fill(st, key, part, found, grace)
        ;(out[i] as BatchRead).found = found
      }
    } catch (err) {
      await releaseTaken(st, parts, out, token, leaseMs)
      throw err
    }
    return out
  } finally {
    for (let i = 0; i < parts.length; i++) untrack(st, parts[i] as string, flights[i] as Flight)
  }
}

/**
 * The calls of a batched read: the key positions in chunks of at most BATCH_READ_CHUNK, per cluster slot on
 * a Cluster (a key and its lease share the key's hash tag, so its slot), in order elsewhere.
 */
function groupsOf(st: TieredState, parts: readonly string[]): number[][] {
  const groups: number[][] = []
  if (st.conn.topology !== 'cluster') {
    for (let i = 0; i < parts.length; i += BATCH_READ_CHUNK) {
      const group: number[] = []
      for (let x = i; x < Math.min(parts.length, i + BATCH_READ_CHUNK); x++) group.push(x)
      groups.push(group)
    }
    return groups
  }
  const bySlot = new Map<number, number[]>()
  for (let i = 0; i < parts.length; i++) {
    const slot = hashSlot(st.l2.keys.valueOf(parts[i] as string))
    let group = bySlot.get(slot)
    if (group === undefined || group.length === BATCH_READ_CHUNK) {
      group = []
      bySlot.set(slot, group)
      groups.push(group)
    }
    group.push(i)
  }
  return groups
}

/** Releases (with their notification) the leases a batched read took, best effort. */
async function releaseTaken(
  st: TieredState,
  parts: readonly string[],
  reads: readonly BatchRead[],
  token: string,
  leaseMs: number,
): Promise<void> {
  const channel = st.l2.keys.channel
  await Promise.all(
    reads.map((r, i) => {
      if (!r?.leased) return undefined
      const part = parts[i] as string
      const lease = new Lease(st.conn, st.l2.keys.lease(part), { ttl: leaseMs, token })
      return lease.release({ channel, message: `d:${part}` }).catch(() => {})
    }),
  )
}
