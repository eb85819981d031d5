import type { Command } from '../command.js'
import { intFlag, stringFlag } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { RESUME_FLAGS, ResumableScan, resumeFlags, resumeUsage } from '../scan.js'

/** The result of `cache keys --json`. */
export interface KeysResult {
  match: string
  /** The keys found (absent with --count). */
  keys?: string[]
  count: number
  /** Where to resume (`--cursor`) when the scan stopped early (--limit, Ctrl-C); null when it finished. */
  cursor: string | null
}

/** Flags shared by the commands that scan (keys, bigkeys). */
export const SCAN_FLAGS = {
  ...RESUME_FLAGS,
  batch: { type: 'string' },
  limit: { type: 'string' },
} as const

export const keysCommand: Command = {
  name: 'keys',
  summary: 'SCAN every master for keys of the namespace matching a glob (throttled, resumable)',
  usage:
    'keys [glob] [--count] [--type string|hash|list|set|zset|stream] [--batch 500] [--rate N] [--limit N] [--cursor M:C]\n\n' +
    '  glob       matched inside the root namespace (--namespace / REDIS_NAMESPACE): `app:v:*`; default *\n' +
    '  --count    print only how many keys match\n' +
    '  --batch    SCAN COUNT hint per call (default 500)\n' +
    '  --limit    stop once N keys are found (at a batch boundary) and print the cursor to resume from\n' +
    resumeUsage(11),
  flags: { ...SCAN_FLAGS, count: { type: 'boolean' }, type: { type: 'string' } },
  async run({ conn, values, positionals, out, signal }) {
    const glob = positionals[0] ?? '*'
    const match = conn.keys.pattern(glob)
    const batch = intFlag(values, 'batch', 500, { min: 1, max: 100_000 })
    const limit = intFlag(values, 'limit', 0)
    const type = stringFlag(values, 'type')
    const countOnly = values.count === true
    const keys: string[] = []
    let count = 0
    const scan = new ResumableScan(conn, {
      match,
      count: batch,
      ...resumeFlags(values),
      signal,
      type,
      onProgress: (line) => out.progress(`${line}  ${count} keys`),
    })
    for await (const b of scan) {
      const found = b.keys
      count += found.length
      if (!countOnly) {
        if (out.json) keys.push(...found)
        else if (found.length > 0) out.write(`${found.join('\n')}\n`)
      }
      // A cursor resumes after a whole batch, so the limit is checked at batch boundaries.
      if (limit > 0 && count >= limit) break
    }
    const cursor = scan.cursor
    const result: KeysResult = { match, count, cursor, ...(countOnly ? {} : { keys }) }
    if (out.json) out.result(result, () => '')
    else {
      out.clearProgress()
      if (countOnly) out.write(`${count}\n`)
      else out.note(`${count} keys`)
      if (cursor) out.note(`stopped early: resume with --cursor ${cursor}`)
    }
    return EXIT.OK
  },
}
