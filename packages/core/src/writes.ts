import { type Arg, hashSlot, InvalidOptionError } from '@cache/client'
import type { MsetEntry, SetOptions } from './cache.js'
import { PKG } from './defaults.js'
import { parseKeep } from './memory-cache-options.js'
import type { RedisCacheContext } from './redis-cache-context.js'
import { inSlices } from './slices.js'
import { checkKey, checkList, parseTtl } from './ttl.js'

/** The TTL of a write: its own, else the cache's default. */
export function ttlOf<T>(ctx: RedisCacheContext<T>, options: SetOptions | undefined): number {
  return options?.ttl === undefined ? ctx.options.defaultTtl : parseTtl(options.ttl)
}

/** Validates everything, encodes, stores, then indexes tags/dependencies. Returns whether it stored. */
export async function write<T>(
  ctx: RedisCacheContext<T>,
  key: string,
  value: T,
  options: SetOptions | undefined,
  nx: boolean,
): Promise<boolean> {
  checkKey(key)
  const ttl = ttlOf(ctx, options)
  const tags = options?.tags ? checkList(options.tags, 'tags') : undefined
  const deps = options?.dependsOn ? checkList(options.dependsOn, 'dependsOn') : undefined
  const keep = options?.keepVersions === undefined ? 0 : parseKeep(options.keepVersions)
  const bytes = ctx.encode(key, value)
  const keys = ctx.keys
  const part = keys.part(key)
  const rk = keys.valueOf(part)
  const indexes: string[] = []
  if (tags) for (const t of new Set(tags)) indexes.push(keys.tag(t))
  if (deps) for (const d of new Set(deps)) indexes.push(keys.dependants(keys.part(d)))
  // Store first, index second. An invalidation that pops an index between the two cannot lose this key:
  // it is added to the (new) index afterwards, so the next invalidation finds it. Indexing first could
  // leave a live value missing from its index if the pop fell between the index write and the store.
  try {
    let stored = true
    if (keep > 0 && !nx) {
      await ctx.scripts.setVersioned([rk, keys.history(part)], [bytes, ttl, keep, Date.now()])
    } else {
      const args: Arg[] = ['SET', rk, bytes, 'PX', String(ttl)]
      if (nx) args.push('NX')
      stored = (await ctx.conn.send<string | null>(args, { key: rk })) === 'OK'
      if (stored && nx && keep > 0) {
        await ctx.scripts.setVersioned([rk, keys.history(part)], [bytes, ttl, keep, Date.now()])
      }
    }
    if (stored && indexes.length > 0) {
      await Promise.all(indexes.map((ix) => ctx.scripts.indexAdd([ix], [String(ttl), rk])))
    }
    if (stored) ctx.stats.sets++
    return stored
  } catch (err) {
    throw ctx.fail(err)
  }
}

/** One validated, encoded entry of an mset. */
interface Planned {
  rk: string
  bytes: Buffer
  ttl: number
  /** Index sets (tags, dependants) that list this entry. */
  indexes: string[] | undefined
}

/** Most entries in one mset script call (bounds the time one call holds the server). */
const MSET_CHUNK = 256
/** Most value bytes in one mset script call (they travel as one argument: far below proto-max-bulk-len). */
const MSET_CHUNK_BYTES = 8 * 1024 * 1024

/** Splits entries into script calls of at most MSET_CHUNK entries and MSET_CHUNK_BYTES value bytes. */
function chunked(list: readonly Planned[]): Planned[][] {
  const out: Planned[][] = []
  let chunk: Planned[] = []
  let bytes = 0
  for (const p of list) {
    if (chunk.length > 0 && (chunk.length === MSET_CHUNK || bytes + p.bytes.length > MSET_CHUNK_BYTES)) {
      out.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(p)
    bytes += p.bytes.length
  }
  if (chunk.length > 0) out.push(chunk)
  return out
}

/**
 * Writes many entries; every entry is validated and encoded first, so a bad one stores nothing. The values
 * and their indexes go in one mset.lua call (per cluster slot, at most MSET_CHUNK entries each) instead of a
 * command per entry and index: a 100-entry mset is one round trip on a single server.
 */
export async function writeMany<T>(
  ctx: RedisCacheContext<T>,
  entries: ReadonlyArray<MsetEntry<T>>,
  options: SetOptions | undefined,
): Promise<void> {
  if (!Array.isArray(entries))
    throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
  const keys = ctx.keys
  const planned: Planned[] = new Array(entries.length)
  let versioned = false
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as MsetEntry<T>
    checkKey(e?.key)
    const key = e.key
    const value = e.value
    // A bare `{ key, value }` under no call options takes the cache's defaults: no object rest per entry
    // (the rest copy was the largest self time of a 100-entry mset after encoding).
    const o: SetOptions | undefined =
      options === undefined && isBare(e) ? undefined : entryOptions(e, options)
    const ttl = ttlOf(ctx, o)
    const tags = o?.tags ? checkList(o.tags, 'tags') : undefined
    const deps = o?.dependsOn ? checkList(o.dependsOn, 'dependsOn') : undefined
    if (o?.keepVersions !== undefined && parseKeep(o.keepVersions) > 0) versioned = true
    const bytes = ctx.encode(key, value)
    let indexes: string[] | undefined
    if (tags || deps) {
      indexes = []
      if (tags) for (const t of new Set(tags)) indexes.push(keys.tag(t))
      if (deps) for (const d of new Set(deps)) indexes.push(keys.dependants(keys.part(d)))
    }
    planned[i] = { rk: keys.value(key), bytes, ttl, indexes }
  }
  // Versioned entries need their history script each: the per-entry path (already validated above).
  if (versioned) {
    await inSlices(entries, ({ key, value, ...own }) => write(ctx, key, value, { ...options, ...own }, false))
    return
  }
  try {
    if (!ctx.cluster) {
      for (const chunk of chunked(planned)) await storeChunk(ctx, chunk, true)
      return
    }
    // A cluster: one call per slot of value keys, then the indexes (other slots), values first as ever.
    const bySlot = new Map<number, Planned[]>()
    for (const p of planned) {
      const slot = hashSlot(p.rk)
      const group = bySlot.get(slot)
      if (group) group.push(p)
      else bySlot.set(slot, [p])
    }
    const chunks: Planned[][] = []
    for (const group of bySlot.values()) chunks.push(...chunked(group))
    await inSlices(chunks, (chunk) => storeChunk(ctx, chunk, false))
    const indexes = indexPlan(planned)
    await inSlices([...indexes], ([ix, { ttl, members }]) =>
      ctx.scripts.indexAdd([ix], [String(ttl), ...members.map((m) => (planned[m] as Planned).rk)]),
    )
  } catch (err) {
    throw ctx.fail(err)
  }
}

/** True when the entry has no enumerable property but `key` and `value` (own or inherited). */
function isBare(e: object): boolean {
  for (const k in e) if (k !== 'key' && k !== 'value') return false
  return true
}

/** The entry's own options over the call's. */
function entryOptions<T>(e: MsetEntry<T>, options: SetOptions | undefined): SetOptions {
  const { key: _key, value: _value, ...own } = e
  return options === undefined ? own : { ...options, ...own }
}

/** Index set -> the longest TTL of its members and their positions in `planned`. */
function indexPlan(planned: readonly Planned[]): Map<string, { ttl: number; members: number[] }> {
  const plan = new Map<string, { ttl: number; members: number[] }>()
  for (let i = 0; i < planned.length; i++) {
    const p = planned[i] as Planned
    if (!p.indexes) continue
    for (const ix of p.indexes) {
      const entry = plan.get(ix)
      if (!entry) plan.set(ix, { ttl: p.ttl, members: [i] })
      else {
        entry.members.push(i)
        if (p.ttl > entry.ttl) entry.ttl = p.ttl
      }
    }
  }
  return plan
}

/** One mset.lua call: the chunk's values, and (when `withIndexes`) their index sets. */
async function storeChunk<T>(
  ctx: RedisCacheContext<T>,
  chunk: readonly Planned[],
  withIndexes: boolean,
): Promise<void> {
  const keys: string[] = new Array(chunk.length)
  // The values go back to back in one argument, after their lengths (mset.lua splits them): node-redis
  // writes each Buffer argument as two socket chunks, and 200 chunks cost as much CPU in writev as encoding
  // the values; one TTL for all (the usual case: the cache's default) instead of one argument per value.
  const n = chunk.length
  let total = 4 * n
  const commonTtl = (chunk[0] as Planned).ttl
  let sameTtl = true
  for (let i = 0; i < n; i++) {
    const p = chunk[i] as Planned
    keys[i] = p.rk
    total += p.bytes.length
    if (p.ttl !== commonTtl) sameTtl = false
  }
  const blob = Buffer.allocUnsafe(total)
  let at = 4 * n
  for (let i = 0; i < n; i++) {
    const bytes = (chunk[i] as Planned).bytes
    blob.writeUInt32BE(bytes.length, 4 * i)
    blob.set(bytes, at)
    at += bytes.length
  }
  const args: Arg[] = [String(n), blob, sameTtl ? String(commonTtl) : '']
  if (!sameTtl) for (const p of chunk) args.push(String(p.ttl))
  if (withIndexes) {
    for (const [ix, { ttl, members }] of indexPlan(chunk)) {
      keys.push(ix)
      args.push(String(ttl), String(members.length))
      for (const m of members) args.push(String(m + 1))
    }
  }
  await ctx.scripts.mset(keys, args)
  ctx.stats.sets += chunk.length
}
