import { sampleStats } from '@cache/cli'
import { chart } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'
import { bigKeysCached, bytes, hitRatioLines, labelValues, num, pct, REQUESTS } from './shared.js'

/** The caches page. */
export async function caches(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const { metrics } = o
  const [groups, invalidations, stats] = await Promise.all([
    labelValues(metrics, REQUESTS, ['namespace', 'tier']),
    metrics.snapshot({ names: ['cache_invalidations_total'] }).catch(() => []),
    sampleStats(o.conn, metrics, metrics.options.namespace, 60_000),
  ])
  const inv = new Map<string, Record<string, number>>()
  for (const m of invalidations)
    for (const s of m.series) {
      const row = inv.get(s.labels.namespace ?? '') ?? {}
      row[s.labels.kind ?? ''] = s.value
      inv.set(s.labels.namespace ?? '', row)
    }
  const usage = await bigKeysCached(o)
  const charts = await Promise.all([
    chart(
      metrics,
      { id: 'cache-hit-ratio', title: 'Hit ratio per cache and tier', unit: 'ratio' },
      hitRatioLines(groups, ['namespace', 'tier']),
      rangeMs,
    ),
    chart(
      metrics,
      { id: 'cache-reads', title: 'Reads per cache and tier', unit: 'reads/s' },
      groups.map((g) => ({
        label: g.join(' '),
        queries: [{ name: REQUESTS, fn: 'rate' as const, labels: { namespace: g[0]!, tier: g[1]! } }],
      })),
      rangeMs,
    ),
  ])
  return {
    figures: [
      { label: 'caches', value: String(new Set(groups.map((g) => g[0])).size) },
      { label: 'sampled keys', value: String(usage?.sampled ?? '-') },
      { label: 'sampled memory', value: bytes(usage?.sampledBytes) },
    ],
    tables: [
      {
        id: 'cache-tiers',
        title: 'Reads in the last minute',
        columns: ['CACHE', 'TIER', 'READS/S', 'HIT RATIO', 'HITS', 'MISSES', 'STALE'],
        rows: stats.caches.map((c) => [
          c.namespace,
          c.tier,
          num(c.readsPerSecond),
          pct(c.hitRatio),
          c.hits,
          c.misses,
          c.stale,
        ]),
      },
      {
        id: 'cache-invalidations',
        title: 'Invalidations (since the metrics began)',
        columns: ['CACHE', 'KEYS', 'TAGS', 'PATTERNS', 'CLEARS'],
        rows: [...inv].map(([ns, k]) => [ns, k.key ?? 0, k.tags ?? 0, k.pattern ?? 0, k.clear ?? 0]),
      },
      {
        id: 'cache-memory',
        title: 'Keys and memory by prefix (sampled, MEMORY USAGE)',
        columns: ['PREFIX', 'KEYS', 'MEMORY'],
        rows: (usage?.byPrefix ?? []).map((p) => [p.prefix, p.keys, bytes(p.bytes)]),
      },
    ],
    charts,
    context: { caches: Object.keys(o.caches) },
  }
}
