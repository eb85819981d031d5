import { type Connection, type MasterNode, sleep } from '@cache/client'
import type { CommandContext } from './command.js'
import { intFlag, stringFlag } from './command.js'
import { UsageError } from './errors.js'
import { formatMs } from './output.js'

/** Where a scan over every master stands: the master's index (masters sorted by address) and its SCAN cursor. */
export interface ScanPosition {
  master: number
  cursor: string
}

/** Options of `scanEveryMaster()`. */
export interface ScanOptions {
  /** SCAN MATCH pattern. */
  match: string
  /** SCAN TYPE filter. */
  type?: string | undefined
  /** SCAN COUNT hint. */
  count: number
  /** At most about this many keys examined per second (SCAN calls spaced out); 0 = no limit. */
  rate: number
  /** Resume here (the `cursor` a previous run printed). */
  from?: ScanPosition | undefined
  /** Stops between two SCAN calls. */
  signal?: AbortSignal | undefined
  /** Called after each SCAN call with a progress line. */
  onProgress?: ((line: string) => void) | undefined
}

/** What a command may set of a scan it runs for a caller: throttle, start, stop, progress. */
export type ResumableScanOptions = Partial<Pick<ScanOptions, 'rate' | 'from' | 'signal' | 'onProgress'>>

/** One SCAN reply: the master it came from, its keys, and where the scan goes on from. */
export interface ScanBatch {
  node: MasterNode
  keys: string[]
  /** The position after this batch; undefined once every master is done. */
  next: ScanPosition | undefined
}

/** '2:1234' -> { master: 2, cursor: '1234' } (the form a stopped scan prints). */
export function parseCursor(text: string): ScanPosition {
  const m = /^(\d+):(\d+)$/.exec(text)
  if (!m)
    throw new UsageError(
      '--cursor',
      `must be "<master>:<cursor>" as printed by a stopped scan, got ${JSON.stringify(text)}`,
    )
  return { master: Number(m[1]), cursor: m[2]! }
}

/** The printable form of a position. */
export function formatCursor(p: ScanPosition): string {
  return `${p.master}:${p.cursor}`
}

/** Every master, in a stable order (by address), so a printed cursor names the same node next time. */
export async function sortedMasters(conn: Connection): Promise<MasterNode[]> {
  return (await conn.masters()).sort((a, b) => a.address.localeCompare(b.address))
}

/**
 * SCAN over every master, resumable from a printed position and throttled to `rate` keys examined per
 * second. It keeps the cursor itself (conn.scan does not expose it), which is what `--cursor` needs.
 */
export async function* scanEveryMaster(conn: Connection, o: ScanOptions): AsyncGenerator<ScanBatch> {
  const masters = await sortedMasters(conn)
  const start = o.from ?? { master: 0, cursor: '0' }
  if (start.master >= masters.length)
    throw new UsageError('--cursor', `names master ${start.master}, but there are ${masters.length}`)
  // DBSIZE bounds what SCAN examines: the progress line's estimate and ETA.
  const sizes = o.onProgress
    ? await Promise.all(masters.map(async (m) => Number(await m.send(['DBSIZE']))))
    : masters.map(() => 0)
  const total = sizes.reduce((a, b) => a + b, 0)
  const began = performance.now()
  const minGapMs = o.rate > 0 ? (o.count / o.rate) * 1000 : 0
  let examined = sizes.slice(0, start.master).reduce((a, b) => a + b, 0)
  let examinedNow = 0
  let last = 0
  for (let i = start.master; i < masters.length; i++) {
    const node = masters[i]!
    let cursor = i === start.master ? start.cursor : '0'
    let inNode = 0
    do {
      if (o.signal?.aborted) return
      if (minGapMs > 0) {
        const wait = last + minGapMs - performance.now()
        if (wait > 0) await sleep(wait)
      }
      last = performance.now()
      const args = ['SCAN', cursor, 'MATCH', o.match, 'COUNT', String(o.count)]
      if (o.type) args.push('TYPE', o.type)
      const reply = await node.send<[string, string[]]>(args)
      cursor = String(reply[0])
      inNode = Math.min(sizes[i]!, inNode + o.count)
      examinedNow += o.count
      const next =
        cursor !== '0'
          ? { master: i, cursor }
          : i + 1 < masters.length
            ? { master: i + 1, cursor: '0' }
            : undefined
      if (o.onProgress) {
        const done = Math.min(total, examined + inNode)
        const elapsed = performance.now() - began
        const rate = examinedNow / Math.max(elapsed, 1)
        const eta = rate > 0 ? (total - done) / rate : 0
        const pct = total > 0 ? Math.floor((done / total) * 100) : 100
        const width = 20
        const bar = '#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.')
        o.onProgress(`[${bar}] ${pct}%  master ${i + 1}/${masters.length}  ETA ${formatMs(eta)}`)
      }
      yield { node, keys: reply[1].map(String), next }
    } while (cursor !== '0')
    examined += sizes[i]!
  }
}

/** The flags of every command that scans: `--rate` (throttle) and `--cursor` (resume). */
export const RESUME_FLAGS = {
  rate: { type: 'string' },
  cursor: { type: 'string' },
} as const

/** The `--help` lines of RESUME_FLAGS, flags padded to `width`; `scan` names what is scanned. */
export function resumeUsage(width: number, scan = 'the scan'): string {
  const line = (flag: string, text: string) => `  ${flag.padEnd(width)}${text}`
  return [
    line('--rate', `at most about N keys a second examined by ${scan} (default: unthrottled)`),
    line('--cursor', `resume ${scan} from the "M:C" (master, SCAN cursor) a stopped run printed`),
  ].join('\n')
}

/** `--rate` and `--cursor` of a command, validated (a bad value is a UsageError naming the flag). */
export function resumeFlags(values: CommandContext['values']): {
  rate: number
  from: ScanPosition | undefined
} {
  const from = stringFlag(values, 'cursor')
  return { rate: intFlag(values, 'rate', 0), from: from === undefined ? undefined : parseCursor(from) }
}

/**
 * A scan over every master that remembers where it stands, for commands that print a resume cursor:
 * iterate it (breaking off between batches, or Ctrl-C aborting `signal`), then read `cursor`.
 */
export class ResumableScan implements AsyncIterable<ScanBatch> {
  readonly #conn: Connection
  readonly #options: ScanOptions
  #at: ScanPosition | undefined

  constructor(conn: Connection, options: ScanOptions) {
    this.#conn = conn
    this.#options = options
    this.#at = options.from ?? { master: 0, cursor: '0' }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ScanBatch> {
    for await (const b of scanEveryMaster(this.#conn, this.#options)) {
      // A batch handed out counts as handled: the callers break off (a limit) only after a whole batch.
      this.#at = b.next
      yield b
    }
  }

  /**
   * Where to resume ("M:C") after the batches handled so far; null once every master was scanned to its
   * end. A scan stopped before its first batch resumes where it was asked to start.
   */
  get cursor(): string | null {
    return this.#at ? formatCursor(this.#at) : null
  }
}
