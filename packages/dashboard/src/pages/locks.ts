import { findDeadlocks, LockManager } from '@cache/locks'
import { chart } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'

/** The locks page. */
export async function locks(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const manager = new LockManager(o.conn, { namespace: o.namespaces.locks })
  // A LeaderElection's lease is a mutex named after the election in the leaders' namespace.
  const leaders =
    o.elections.length > 0 ? new LockManager(o.conn, { namespace: o.namespaces.leaders }) : undefined
  try {
    const [held, waiting, elected] = await Promise.all([
      manager.heldLongerThan(0),
      manager.waitFor(),
      Promise.all(o.elections.map(async (name) => ({ name, info: await leaders!.inspect(name) }))),
    ])
    held.sort((a, b) => b.heldMs - a.heldMs)
    const deadlocks = findDeadlocks(waiting)
    const charts = await Promise.all([
      chart(
        o.metrics,
        { id: 'lock-wait', title: 'Lock wait', unit: 'ms' },
        [
          { label: 'p50', queries: [{ name: 'cache_lock_wait_seconds', fn: 'p50' }], scale: 1000 },
          { label: 'p99', queries: [{ name: 'cache_lock_wait_seconds', fn: 'p99' }], scale: 1000 },
        ],
        rangeMs,
      ),
      chart(
        o.metrics,
        { id: 'lock-events', title: 'Leases lost / held too long', unit: 'events/s' },
        [
          {
            label: 'lost',
            queries: [{ name: 'cache_lock_events_total', fn: 'rate', labels: { event: 'lost' } }],
          },
          {
            label: 'held too long',
            queries: [{ name: 'cache_lock_events_total', fn: 'rate', labels: { event: 'held-too-long' } }],
          },
        ],
        rangeMs,
      ),
    ])
    return {
      figures: [
        { label: 'held', value: String(held.length) },
        { label: 'waiters', value: String(waiting.length) },
        { label: 'longest held', value: held[0] ? `${(held[0].heldMs / 1000).toFixed(1)} s` : '-' },
        {
          label: 'deadlocks',
          value: String(deadlocks.length),
          level: deadlocks.length > 0 ? 'critical' : 'ok',
        },
      ],
      tables: [
        {
          id: 'locks-held',
          title: 'Held locks (longest first)',
          columns: ['RESOURCE', 'HOLDER', 'HELD FOR', 'TTL', 'HOLDS', 'QUEUED', 'FENCE'],
          rows: held.map((l) => [
            l.resource,
            l.holder,
            `${(l.heldMs / 1000).toFixed(1)} s`,
            `${(l.ttlMs / 1000).toFixed(1)} s`,
            l.holdCount,
            l.queued,
            l.token,
          ]),
        },
        {
          id: 'locks-waiting',
          title: 'Waiters',
          columns: ['WAITER', 'RESOURCE', 'HOLDER', 'WAITING'],
          rows: waiting.map((w) => [
            w.waiter,
            w.resource,
            w.holder ?? '-',
            `${(w.waitingMs / 1000).toFixed(1)} s`,
          ]),
        },
        {
          id: 'locks-leaders',
          title: 'Leaders',
          columns: ['ELECTION', 'LEADER', 'TERM', 'LEASE LEFT'],
          rows: elected.map(({ name, info }) => [
            name,
            info?.holder ?? 'none',
            info?.token ?? '-',
            info ? `${(info.ttlMs / 1000).toFixed(1)} s` : '-',
          ]),
        },
        {
          id: 'locks-deadlocks',
          title: 'Deadlocks',
          columns: ['CYCLE'],
          rows: deadlocks.map((d) => [[...d, d[0]].join(' → ')]),
        },
      ],
      charts,
      context: {},
    }
  } finally {
    await Promise.all([manager.close(), leaders?.close()])
  }
}
