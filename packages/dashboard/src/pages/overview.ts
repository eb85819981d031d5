import { sampleStats } from '@cache/cli'
import { chart, total } from '../charts.js'
import type { DashboardAlerts, ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'
import { COMMANDS, hitRatioLines, labelValues, num, pct, REQUESTS, recommendationsCached } from './shared.js'

/** The overview page. */
export async function overview(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const { metrics } = o
  const [tiers, outcomes, stats] = await Promise.all([
    labelValues(metrics, REQUESTS, ['tier']),
    labelValues(metrics, COMMANDS, ['outcome']),
    sampleStats(o.conn, metrics, metrics.options.namespace, 60_000),
  ])
  const errors = outcomes.map((x) => x[0]!).filter((x) => x !== 'ok')
  const charts = await Promise.all([
    chart(
      metrics,
      { id: 'ops', title: 'Redis commands', unit: 'ops/s' },
      [{ label: 'commands/s', queries: [{ name: COMMANDS, fn: 'rate' }] }],
      rangeMs,
    ),
    chart(
      metrics,
      { id: 'hit-ratio', title: 'Hit ratio per tier', unit: 'ratio' },
      hitRatioLines(tiers, ['tier']),
      rangeMs,
    ),
    chart(
      metrics,
      { id: 'latency', title: 'Command latency', unit: 'ms' },
      [
        { label: 'p50', queries: [{ name: COMMANDS, fn: 'p50' }], scale: 1000 },
        { label: 'p99', queries: [{ name: COMMANDS, fn: 'p99' }], scale: 1000 },
      ],
      rangeMs,
    ),
    chart(
      metrics,
      { id: 'errors', title: 'Command errors', unit: 'errors/s' },
      [
        {
          label: 'errors/s',
          queries: errors.map((outcome) => ({ name: COMMANDS, fn: 'rate' as const, labels: { outcome } })),
          combine: (v) => (errors.length === 0 ? 0 : total(v)),
        },
      ],
      rangeMs,
    ),
  ])
  const reads = stats.caches.reduce((a, c) => a + c.hits + c.misses + c.stale, 0)
  const hits = stats.caches.reduce((a, c) => a + c.hits, 0)
  const errorCount = Object.values(stats.commands.errors).reduce((a, b) => a + b, 0)
  const [recommendations, alertStates] = await Promise.all([
    recommendationsCached(o),
    o.alerts ? o.alerts.states() : Promise.resolve<Awaited<ReturnType<DashboardAlerts['states']>>>({}),
  ])
  const rank = { firing: 0, pending: 1, inactive: 2 }
  const alerts = Object.entries(alertStates).sort(
    (a, b) => rank[a[1].state] - rank[b[1].state] || a[0].localeCompare(b[0]),
  )
  const firing = alerts.filter(([, a]) => a.state === 'firing').length
  return {
    figures: [
      { label: 'server ops/s', value: String(stats.server.opsPerSecond) },
      { label: 'commands/s (1m)', value: num(stats.commands.perSecond) },
      { label: 'hit ratio (1m)', value: pct(reads > 0 ? hits / reads : null) },
      { label: 'p50 / p99', value: `${num(stats.commands.p50Ms, 2)} / ${num(stats.commands.p99Ms, 2)} ms` },
      { label: 'errors (1m)', value: String(errorCount), level: errorCount > 0 ? 'critical' : 'ok' },
      { label: 'clients', value: String(stats.server.clients) },
      ...(o.alerts
        ? [
            {
              label: 'alerts firing',
              value: String(firing),
              level: firing > 0 ? ('critical' as const) : ('ok' as const),
            },
          ]
        : []),
    ],
    tables: [
      ...(o.alerts
        ? [
            {
              id: 'alerts',
              title: 'Alerts',
              columns: ['RULE', 'STATE', 'SINCE', 'VALUE'],
              rows: alerts.map(([name, a]) => [
                name,
                a.state,
                a.since ? new Date(a.since).toISOString() : '-',
                a.value === null ? '-' : Number(a.value.toPrecision(4)),
              ]),
            },
          ]
        : []),
      {
        id: 'recommendations',
        title: 'Recommendations (warnings)',
        columns: ['SEVERITY', 'ID', 'NODE', 'MESSAGE'],
        rows: recommendations
          .filter((r) => r.severity !== 'info')
          .map((r) => [r.severity, r.id, r.node ?? '-', r.message]),
      },
    ],
    charts,
    context: {},
  }
}
