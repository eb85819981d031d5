import type { CacheVersion } from './cache.js'
import { DecodeError, VersionNotFoundError } from './errors.js'
import type { RedisCacheContext } from './redis-cache-context.js'
import { checkKey } from './ttl.js'
import { write } from './writes.js'

/** The stored versions of `key`, newest first. */
export async function versionsOf<T>(ctx: RedisCacheContext<T>, key: string): Promise<Array<CacheVersion<T>>> {
  const part = ctx.keys.part(checkKey(key))
  const raw = await ctx.send<Buffer[]>(
    ['LRANGE', ctx.keys.history(part), '0', '-1'],
    ctx.keys.valueOf(part),
    true,
  )
  return raw.map((entry) => {
    const e = parseHistoryEntry(entry)
    if (!e) throw ctx.fail(new DecodeError('malformed history entry', { key }))
    return { version: e.version, createdAt: e.createdAt, value: ctx.decode(key, e.encoded) as T }
  })
}

/** One entry of a key's history list (`<ns>:h:{key}`, set-versioned.lua): `<version>|<createdAt ms>|<encoded value>`. */
export interface HistoryEntry {
  version: number
  /** When this version was written (ms since the epoch). */
  createdAt: number
  /** The value as its codec wrote it (decode it with the cache's codec). */
  encoded: Buffer
}

/** Splits a raw history entry; undefined when it is malformed. */
export function parseHistoryEntry(entry: Buffer): HistoryEntry | undefined {
  const a = entry.indexOf(0x7c)
  const b = entry.indexOf(0x7c, a + 1)
  if (a < 0 || b < 0) return undefined
  return {
    version: Number(entry.subarray(0, a).toString()),
    createdAt: Number(entry.subarray(a + 1, b).toString()),
    encoded: entry.subarray(b + 1),
  }
}

/** Makes an earlier version current again (keeping the history and the remaining TTL). */
export async function rollbackTo<T>(
  ctx: RedisCacheContext<T>,
  key: string,
  version: number,
  ttlLeft: number | undefined,
): Promise<void> {
  const history = await versionsOf(ctx, key)
  const found = history.find((v) => v.version === version)
  if (!found) throw new VersionNotFoundError(key, version)
  const ttl =
    ttlLeft === undefined || !Number.isFinite(ttlLeft) ? ctx.options.defaultTtl : Math.max(1000, ttlLeft)
  await write(ctx, key, found.value, { ttl, keepVersions: history.length }, false)
}
