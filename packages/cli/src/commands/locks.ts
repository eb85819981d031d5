import { parseDuration } from '@cache/client'
import { findDeadlocks, type LockInfo, LockManager, type WaitEdge } from '@cache/locks'
import type { Command } from '../command.js'
import { stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { formatMs, table } from '../output.js'

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
}

export const locksCommand: Command = {
  name: 'locks',
  summary: '@cache/locks: held locks (holder, held for, TTL, queue), waiters, deadlocks',
  usage:
    'locks [--locks-namespace lock] [--held-over 30s]\n\n' +
    '  --locks-namespace  the LockManager namespace (new LockManager(conn, { namespace })), default lock\n' +
    '  --held-over        exit 1 when a lock is held longer than this (an alert, a stuck job)',
  flags: { 'locks-namespace': { type: 'string' }, 'held-over': { type: 'string' } },
  async run({ conn, values, out }) {
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
    const manager = new LockManager(conn, { namespace })
    try {
      const [held, waiting] = await Promise.all([manager.heldLongerThan(0), manager.waitFor()])
      held.sort((a, b) => b.heldMs - a.heldMs)
      const r: LocksResult = { namespace, held, waiting, deadlocks: findDeadlocks(waiting) }
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
        return lines.join('\n')
      })
      return r.deadlocks.length > 0 || (r.overThreshold ?? 0) > 0 ? EXIT.PROBLEM : EXIT.OK
    } finally {
      await manager.close()
    }
  },
}
