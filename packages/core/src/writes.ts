import { type Arg, InvalidOptionError } from '@cache/client'
import type { MsetEntry, SetOptions } from './cache.js'
import { PKG } from './defaults.js'
import { parseKeep } from './memory-cache.js'
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

/** Writes many entries; every entry is validated and encoded first, so a bad one stores nothing. */
export async function writeMany<T>(
  ctx: RedisCacheContext<T>,
  entries: ReadonlyArray<MsetEntry<T>>,
  options: SetOptions | undefined,
): Promise<void> {
  if (!Array.isArray(entries))
    throw new InvalidOptionError(PKG, 'entries', 'must be an array of { key, value }')
  for (const e of entries) {
    checkKey(e?.key)
    ctx.encode(e.key, e.value)
  }
  await inSlices(entries, ({ key, value, ...own }) => write(ctx, key, value, { ...options, ...own }, false))
}
