import type { Connection } from '@cache/client'
import { CacheKeys, globToRedis, RedisCache } from '@cache/core'
import type { Command } from '../command.js'
import { intFlag, stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { confirm } from '../prompt.js'
import { RESUME_FLAGS, ResumableScan, resumeFlags, resumeUsage } from '../scan.js'

/** The result of `cache invalidate`. */
export interface InvalidateResult {
  cache: string
  tags?: string[]
  pattern?: string
  /** Live entries that match (what would be, or was, removed), and up to 20 of their cache keys. */
  matched: number
  sample: string[]
  dryRun: boolean
  /** False when the prompt was declined. */
  confirmed: boolean
  /** Entries removed (0 on a dry run). */
  removed: number
  /**
   * --pattern: where to resume (`--cursor`) when the scan stopped early (--limit, Ctrl-C); the entries found
   * before it were handled as asked. Null when the scan finished (and always with --tag).
   */
  cursor: string | null
}

const SAMPLE = 20

function userKey(keys: CacheKeys, valueKey: string): string {
  const part = keys.partOf(valueKey) ?? valueKey
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

/** The live value keys a tag points at (the tag set may still list expired entries). */
async function tagged(conn: Connection, keys: CacheKeys, tags: string[]): Promise<string[]> {
  const found = new Set<string>()
  for (const tag of tags) {
    const set = keys.tag(tag)
    const members = (await conn.send<string[]>(['SMEMBERS', set], { key: set })).map(String)
    const live = await Promise.all(members.map((k) => conn.send<number>(['EXISTS', k], { key: k })))
    members.forEach((k, i) => {
      if (Number(live[i]) === 1) found.add(k)
    })
  }
  return [...found]
}

/** The value keys one scan finds, at most about `limit` (whole batches; 0 = all). */
async function matching(scan: ResumableScan, limit: number): Promise<string[]> {
  const out: string[] = []
  for await (const b of scan) {
    out.push(...b.keys)
    if (limit > 0 && out.length >= limit) break
  }
  return out
}

/** Deletes the entries of these value keys through the cache (value and history), 100 at a time. */
async function removeAll(cache: RedisCache, keys: CacheKeys, valueKeys: string[]): Promise<number> {
  let removed = 0
  for (let i = 0; i < valueKeys.length; i += 100) {
    const done = await Promise.all(valueKeys.slice(i, i + 100).map((k) => cache.delete(userKey(keys, k))))
    removed += done.filter(Boolean).length
  }
  return removed
}

export const invalidateCommand: Command = {
  name: 'invalidate',
  summary: 'invalidate cache entries by tag or key pattern (dry run, confirmation prompt)',
  usage:
    "invalidate (--tag T [--tag T2…] | --pattern 'users:*' [--batch 1000] [--rate N] [--limit N] [--cursor M:C])\n" +
    '           [--cache NS] [--dry-run] [--yes]\n\n' +
    '  --cache     the RedisCache namespace (default cache, as RedisCache)\n' +
    '  --tag       invalidate every entry with this tag (and their dependants), as cache.invalidateTags()\n' +
    '  --pattern   delete every entry whose cache key matches this glob, as cache.deletePattern() does\n' +
    '  --limit     --pattern: stop once about N entries match (at a batch boundary), handle those and print\n' +
    '              the cursor to resume from (Ctrl-C does the same)\n' +
    '  --batch     --pattern: the SCAN COUNT hint per call (default 1000)\n' +
    `${resumeUsage(12, 'the SCAN of --pattern')}\n` +
    '  --dry-run   only count and list what would go\n' +
    '  --yes       do not ask (scripts); without it the command asks on stderr and reads stdin',
  flags: {
    cache: { type: 'string' },
    tag: { type: 'string', multiple: true },
    pattern: { type: 'string' },
    ...RESUME_FLAGS,
    batch: { type: 'string' },
    limit: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  },
  async run({ conn, values, out, io, signal }) {
    const ns = stringFlag(values, 'cache', 'cache')!
    const tags = (values.tag as string[] | undefined) ?? []
    const pattern = stringFlag(values, 'pattern')
    if (tags.length === 0 && !pattern) throw new UsageError('--tag', 'or --pattern is required')
    if (tags.length > 0 && pattern)
      throw new UsageError('--pattern', 'cannot be combined with --tag (run twice)')
    const keys = new CacheKeys(conn.keys.child(ns))
    const resume = resumeFlags(values)
    const limit = intFlag(values, 'limit', 0)
    const batch = intFlag(values, 'batch', 1000, { min: 1, max: 100_000 })
    if (!pattern && (resume.from || limit > 0))
      throw new UsageError(resume.from ? '--cursor' : '--limit', 'applies to --pattern only')
    const scan = pattern
      ? new ResumableScan(conn, {
          match: keys.valuePattern(globToRedis(pattern)),
          count: batch,
          ...resume,
          signal,
        })
      : undefined
    const found = scan ? await matching(scan, limit) : await tagged(conn, keys, tags)
    const result: InvalidateResult = {
      cache: ns,
      ...(pattern ? { pattern } : { tags }),
      matched: found.length,
      sample: found.slice(0, SAMPLE).map((k) => userKey(keys, k)),
      dryRun: values['dry-run'] === true,
      confirmed: false,
      removed: 0,
      cursor: scan?.cursor ?? null,
    }
    const what = pattern ? `matching ${JSON.stringify(pattern)}` : `tagged ${tags.join(', ')}`
    if (!result.dryRun && found.length > 0) {
      result.confirmed =
        values.yes === true ||
        (await confirm(io, `Invalidate ${found.length} entries of cache "${ns}" ${what}?`))
      if (result.confirmed) {
        const cache = new RedisCache(conn, { namespace: ns })
        try {
          // --pattern removes what was counted and confirmed (this run's part of a resumable scan).
          result.removed = pattern ? await removeAll(cache, keys, found) : await cache.invalidateTags(tags)
        } finally {
          await cache.close()
        }
      }
    }
    out.result(result, () => {
      const lines = [`${found.length} entries of cache "${ns}" ${what}`]
      for (const k of result.sample) lines.push(`  ${k}`)
      if (found.length > SAMPLE) lines.push(`  … and ${found.length - SAMPLE} more`)
      if (result.dryRun) lines.push('dry run: nothing removed')
      else if (found.length === 0) lines.push('nothing to do')
      else if (!result.confirmed) lines.push('not confirmed: nothing removed')
      else lines.push(`removed ${result.removed}`)
      if (result.cursor) lines.push(`stopped early: resume with --cursor ${result.cursor}`)
      return lines.join('\n')
    })
    return !result.dryRun && found.length > 0 && !result.confirmed ? EXIT.PROBLEM : EXIT.OK
  },
}
