import type { Cache } from '@cache/core'

/**
 * Dependency chains across shards. A shard records a dependency where the dependant is written (its own
 * dependants set of the key it depends on), so `invalidate(A)` on A's shard cannot see a dependant B that
 * lives on another shard, nor B's own dependants on a third. The ShardedCache therefore invalidates on every
 * shard, learns which keys each removed (the `*Detailed` variants of RedisCache and TieredCache name them),
 * and repeats for every newly removed key until no shard removes anything new (cycles end: a key is
 * followed once).
 */

/** What a shard must offer for dependency chains across shards (RedisCache and TieredCache do). */
export interface DetailedInvalidation {
  invalidateDetailed(key: string): Promise<{ removed: number; parts: string[] }>
  invalidateTagsDetailed(tags: readonly string[]): Promise<{ removed: number; parts: string[] }>
}

/** True when a cache names what it invalidated (so chains can be followed across shards). */
export function hasDetailedInvalidation(cache: Cache<unknown>): boolean {
  const c = cache as Partial<DetailedInvalidation>
  return typeof c.invalidateDetailed === 'function' && typeof c.invalidateTagsDetailed === 'function'
}

/**
 * The key of an escaped part, or undefined for a hashed part (keys longer than MAX_KEY_PART_LENGTH escaped
 * characters): those cannot be followed to other shards.
 */
function keyOf(part: string): string | undefined {
  if (part.startsWith('#')) return undefined
  try {
    return decodeURIComponent(part)
  } catch {
    return undefined
  }
}

/**
 * Runs `first` on every shard, then follows every removed key to the other shards (their dependants of
 * it) until nothing new is removed; returns the total removed (each key is removed once, on its shard).
 */
export async function cascade(
  shards: ReadonlyArray<Cache<unknown>>,
  first: (shard: DetailedInvalidation) => Promise<{ removed: number; parts: string[] }>,
  seen: Set<string>,
): Promise<number> {
  const detailed = shards as unknown as DetailedInvalidation[]
  let round = await Promise.all(detailed.map(first))
  let removed = 0
  for (;;) {
    const next: string[] = []
    for (const r of round) {
      removed += r.removed
      for (const p of r.parts) {
        if (seen.has(p)) continue
        seen.add(p)
        const key = keyOf(p)
        if (key !== undefined) next.push(key)
      }
    }
    if (next.length === 0) return removed
    round = await Promise.all(next.flatMap((key) => detailed.map((s) => s.invalidateDetailed(key))))
  }
}
