import { tenantSessions } from '@cache/cli'
import { chart } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'

/** The sessions page: every tenant's SessionStats through @cache/session (the cli's reader). */
export async function sessions(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const list = await tenantSessions(o.conn, o.namespaces.sessions)
  const events = ['created', 'revoked', 'destroyed', 'regenerated', 'token-reuse']
  const charts = await Promise.all([
    chart(
      o.metrics,
      { id: 'session-events', title: 'Session events', unit: 'events/s' },
      events.map((event) => ({
        label: event,
        queries: [{ name: 'cache_session_events_total', fn: 'rate' as const, labels: { event } }],
      })),
      rangeMs,
    ),
  ])
  return {
    figures: [
      { label: 'tenants', value: String(list.length) },
      { label: 'active sessions', value: String(list.reduce((a, t) => a + t.activeSessions, 0)) },
      { label: 'active users', value: String(list.reduce((a, t) => a + t.activeUsers, 0)) },
    ],
    tables: [
      {
        id: 'session-tenants',
        title: 'Sessions per tenant',
        columns: ['TENANT', 'ACTIVE SESSIONS', 'ACTIVE USERS', 'CREATED', 'REVOKED'],
        rows: list.map((t) => [t.tenant, t.activeSessions, t.activeUsers, t.creations, t.revocations]),
      },
    ],
    charts,
    context: { tenants: list.map((t) => t.tenant), canRevoke: o.sessions !== undefined },
  }
}
