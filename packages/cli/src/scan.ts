import { type Connection, type MasterNode, sleep } from '@cache/client'
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
