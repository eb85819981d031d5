import { parseDuration } from '@cache/client'
import { findDeadlocks, type LockInfo, LockManager, type WaitEdge } from '@cache/locks'
import type { Command } from '../command.js'
import { stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { formatMs, table } from '../output.js'
import { RESUME_FLAGS, ResumableScan, resumeFlags, resumeUsage } from '../scan.js'

/** The result of `cache locks`. */
export interface LocksResult {
  namespace: string
  /** Every held mutex, longest held first (the server's clock). */
  held: LockInfo[]
  /** Who waits for what, and who holds it. */
  waiting: WaitEdge[]
  /** Cycles of processes waiting for each other (only a wait timeout breaks them). */
  deadlocks: string[][]
  /** With --held-over: the locks held longer than it. */
  overThreshold?: number
  /** Where to resume the scan of the lock keys (`--cursor`) when it was stopped; null when it finished. */
  cursor: string | null
}

export const locksCommand: Command = {
  name: 'locks',
  summary: '@cache/locks: held locks (holder, held for, TTL, queue), waiters, deadlocks',
  usage:
    'locks [--locks-namespace lock] [--held-over 30s] [--rate N] [--cursor M:C]\n\n' +
    '  --locks-namespace  the LockManager namespace (new LockManager(conn, { namespace })), default lock\n' +
    '  --held-over        exit 1 when a lock is held longer than this (an alert, a stuck job)\n' +
    `${resumeUsage(19, 'the SCAN of the lock keys')}\n` +
    '  (with --cursor or Ctrl-C the held locks listed are those of the part scanned)',
  flags: { ...RESUME_FLAGS, 'locks-namespace': { type: 'string' }, 'held-over': { type: 'string' } },
  async run({ conn, values, out, signal }) {
    const namespace = stringFlag(values, 'locks-namespace', 'lock')!
    const over = stringFlag(values, 'held-over')
    let threshold: number | undefined
    if (over !== undefined) {
      try {
        threshold = parseDuration(over)
      } catch {
        throw new UsageError('--held-over', `must be a duration like 30s, got ${JSON.stringify(over)}`)
      }
    }
    const resume = resumeFlags(values)
    const manager = new LockManager(conn, { namespace })
    try {
      let scan: ResumableScan | undefined
      const [held, waiting] = await Promise.all([
        manager.heldLongerThan(0, {
          scan: (match, type) => {
            scan = new ResumableScan(conn, { match, type, count: 1000, ...resume, signal })
            return keysOf(scan)
          },
        }),
        manager.waitFor(),
      ])
      held.sort((a, b) => b.heldMs - a.heldMs)
      const cursor = scan?.cursor ?? null
      const r: LocksResult = { namespace, held, waiting, deadlocks: findDeadlocks(waiting), cursor }
      if (threshold !== undefined) r.overThreshold = held.filter((l) => l.heldMs > threshold).length
      out.result(r, () => {
        const lines = [
          held.length === 0
            ? `no locks held in ${namespace}`
            : table([
                ['RESOURCE', 'HOLDER', 'HELD FOR', 'TTL', 'HOLDS', 'QUEUED', 'FENCE'],
                ...held.map((l) => [
                  l.resource,
                  l.holder,
                  formatMs(l.heldMs),
                  formatMs(l.ttlMs),
                  l.holdCount,
                  l.queued,
                  l.token,
                ]),
              ]),
        ]
        if (waiting.length > 0)
          lines.push(
            '',
            table([
              ['WAITER', 'RESOURCE', 'HOLDER', 'WAITING'],
              ...waiting.map((w) => [w.waiter, w.resource, w.holder ?? '-', formatMs(w.waitingMs)]),
            ]),
          )
        for (const d of r.deadlocks) lines.push(out.style('red', `deadlock: ${[...d, d[0]].join(' -> ')}`))
        if (r.overThreshold) lines.push(out.style('red', `${r.overThreshold} held longer than ${over}`))
        if (cursor) lines.push(`stopped early: resume with --cursor ${cursor}`)
        return lines.join('\n')
      })
      return r.deadlocks.length > 0 || (r.overThreshold ?? 0) > 0 ? EXIT.PROBLEM : EXIT.OK
    } finally {
      await manager.close()
    }
  },
}

/** The key names of each batch of a scan. */
async function* keysOf(scan: ResumableScan): AsyncGenerator<readonly string[]> {
  for await (const b of scan) yield b.keys
}
