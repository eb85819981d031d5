import { isCacheError } from '@cache/client'
import { publishInvalidate } from './channels.js'
import { SCAN_COUNT } from './defaults.js'
import { globToRedis } from './glob.js'
import type { RedisCacheContext } from './redis-cache-context.js'
import { inSlices, mapSlices } from './slices.js'
import { checkKey, checkList } from './ttl.js'

/** What an invalidation removed: how many values existed, and every escaped key part it visited. */
export interface Invalidated {
  removed: number
  parts: string[]
}

/** Removes entries by escaped part and, level by level, everything depending on them (cycle-safe). */
async function cascade<T>(ctx: RedisCacheContext<T>, parts: Iterable<string>): Promise<Invalidated> {
  const keys = ctx.keys
  const seen = new Set<string>(parts)
  let level = [...seen]
  let removed = 0
  while (level.length > 0) {
    const replies = await mapSlices(level, (p) =>
      ctx.scripts.invalidate([keys.valueOf(p), keys.history(p), keys.dependants(p)]),
    )
    const next: string[] = []
    for (const [existed, dependants] of replies) {
      removed += Number(existed)
      for (const rk of dependants) {
        const p = keys.partOf(String(rk))
        if (p !== undefined && !seen.has(p)) {
          seen.add(p)
          next.push(p)
        }
      }
    }
    level = next
  }
  ctx.stats.deletes += removed
  return { removed, parts: [...seen] }
}

/** Invalidates one key and its dependants. */
export async function invalidateKey<T>(ctx: RedisCacheContext<T>, key: string): Promise<Invalidated> {
  try {
    const result = await cascade(ctx, [ctx.keys.part(checkKey(key))])
    publishInvalidate({ namespace: ctx.namespace, kind: 'key', target: key, removed: result.removed })
    return result
  } catch (err) {
    throw isCacheError(err, 'E_INVALID_OPTION') ? err : ctx.fail(err)
  }
}

/** Invalidates every key carrying one of `tags`, and their dependants. */
export async function invalidateTags<T>(
  ctx: RedisCacheContext<T>,
  tags: readonly string[],
): Promise<Invalidated> {
  checkList(tags, 'tags')
  try {
    const members = await mapSlices([...new Set(tags)], (t) => ctx.scripts.indexPop([ctx.keys.tag(t)]))
    const parts = new Set<string>()
    for (const list of members) {
      for (const rk of list) {
        const p = ctx.keys.partOf(String(rk))
        if (p !== undefined) parts.add(p)
      }
    }
    const result = await cascade(ctx, parts)
    publishInvalidate({ namespace: ctx.namespace, kind: 'tags', target: tags, removed: result.removed })
    return result
  } catch (err) {
    throw ctx.fail(err)
  }
}

/** Deletes the keys matching a glob (SCAN on every master) with their histories. */
export async function deleteMatching<T>(ctx: RedisCacheContext<T>, glob: string): Promise<number> {
  const keys = ctx.keys
  const match = keys.valuePattern(globToRedis(glob))
  let removed = 0
  try {
    for await (const batch of ctx.conn.scan(match, { count: SCAN_COUNT })) {
      // The value and its history share a slot: one UNLINK removes both.
      const counts = await mapSlices(batch, (rk) =>
        ctx.conn.send<number>(['UNLINK', rk, keys.history(keys.partOf(rk) as string)], { key: rk }),
      )
      for (const n of counts) if (n > 0) removed++
    }
  } catch (err) {
    throw ctx.fail(err)
  }
  ctx.stats.deletes += removed
  publishInvalidate({ namespace: ctx.namespace, kind: 'pattern', target: glob, removed })
  return removed
}

/** Deletes every key of the namespace. */
export async function clearAll<T>(ctx: RedisCacheContext<T>): Promise<void> {
  try {
    for await (const batch of ctx.conn.scan(ctx.keys.all, { count: SCAN_COUNT })) {
      await inSlices(batch, (k) => ctx.conn.send(['UNLINK', k], { key: k }))
    }
  } catch (err) {
    throw ctx.fail(err)
  }
  publishInvalidate({ namespace: ctx.namespace, kind: 'clear' })
}
