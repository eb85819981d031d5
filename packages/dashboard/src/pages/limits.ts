import { DENIED_COLUMNS, deniedRows, RULE_COLUMNS, readLimits, ruleRows } from '@cache/cli'
import { chart } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'
import { labelValues } from './shared.js'

/** The limits page. */
export async function limits(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const { conn, metrics } = o
  const [r, rulesSeen, outages] = await Promise.all([
    readLimits(conn, o.namespaces.limits, 10),
    labelValues(metrics, 'cache_ratelimit_decisions_total', ['rule']),
    metrics.snapshot({ names: ['cache_ratelimit_outages_total'] }).catch(() => []),
  ])
  let down = 0
  let up = 0
  for (const m of outages)
    for (const s of m.series) {
      if (s.labels.state === 'down') down += s.value
      else if (s.labels.state === 'up') up += s.value
    }
  const rules = ruleRows(r)
  const charts = await Promise.all([
    chart(
      metrics,
      { id: 'limit-decisions', title: 'Decisions', unit: 'decisions/s' },
      [
        {
          label: 'allowed',
          queries: [{ name: 'cache_ratelimit_decisions_total', fn: 'rate', labels: { outcome: 'allowed' } }],
        },
        {
          label: 'denied',
          queries: [{ name: 'cache_ratelimit_decisions_total', fn: 'rate', labels: { outcome: 'denied' } }],
        },
      ],
      rangeMs,
    ),
    chart(
      metrics,
      { id: 'limit-denied', title: 'Denied per rule', unit: 'denied/s' },
      rulesSeen.map(([rule]) => ({
        label: rule!,
        queries: [
          {
            name: 'cache_ratelimit_decisions_total',
            fn: 'rate' as const,
            labels: { rule: rule!, outcome: 'denied' },
          },
        ],
      })),
      rangeMs,
    ),
  ])
  const outage = down > up
  return {
    figures: [
      { label: 'rules', value: String(rules.length) },
      {
        label: 'outage mode',
        value: outage ? 'DOWN (fallback policy)' : 'normal',
        level: outage ? 'critical' : 'ok',
      },
      { label: 'outages', value: String(down) },
    ],
    tables: [
      {
        id: 'limit-rules',
        title: 'Rules (allowed / denied, every process)',
        columns: [...RULE_COLUMNS],
        rows: rules,
      },
      {
        id: 'limit-top',
        title: 'Most denied keys (as stored: hashed when the application hashes them)',
        columns: [...DENIED_COLUMNS],
        rows: deniedRows(r),
      },
    ],
    charts,
    context: {},
  }
}
