import type { Chart } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'
import { bigKeysCached, bytes, num, pct, recommendationsCached } from './shared.js'

interface ServerSample {
  t: number
  used: number
  rss: number
  ops: number
  fragmentation: number
}

// Server samples taken when the server page is read (INFO is not a stored metric), per connection.
const samples = new WeakMap<object, ServerSample[]>()
const SAMPLES = 720

/** The server page. */
export async function server(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const insight = await o.metrics.server()
  const [usage, recommendations] = await Promise.all([bigKeysCached(o), recommendationsCached(o)])
  const masters = insight.nodes.filter((n) => n.role === 'master')
  const sum = (f: (n: (typeof masters)[number]) => number | undefined) =>
    masters.reduce((a, n) => a + (f(n) ?? 0), 0)
  const list = samples.get(o.conn) ?? []
  samples.set(o.conn, list)
  const now = Date.now()
  list.push({
    t: now,
    used: sum((n) => n.memory?.used),
    rss: sum((n) => n.memory?.rss),
    ops: sum((n) => n.opsPerSec),
    fragmentation: Math.max(0, ...masters.map((n) => n.memory?.fragmentationRatio ?? 0)),
  })
  if (list.length > SAMPLES) list.splice(0, list.length - SAMPLES)
  const recent = list.filter((s) => s.t >= now - rangeMs)
  const t = recent.map((s) => Math.floor(s.t / 1000))
  const charts: Chart[] = [
    {
      id: 'server-memory',
      title: 'Memory (masters, sampled by this page)',
      unit: 'MiB',
      t,
      series: [
        { label: 'used', values: recent.map((s) => s.used / 1048576) },
        { label: 'rss', values: recent.map((s) => s.rss / 1048576) },
      ],
    },
    {
      id: 'server-ops',
      title: 'Server ops/s (INFO)',
      unit: 'ops/s',
      t,
      series: [{ label: 'ops/s', values: recent.map((s) => s.ops) }],
    },
  ]
  const slow = insight.nodes.flatMap((n) => (n.slowlog ?? []).map((e) => ({ node: n.address, ...e })))
  return {
    figures: [
      { label: 'topology', value: insight.topology },
      { label: 'nodes', value: `${insight.nodes.filter((n) => n.ok).length} / ${insight.nodes.length} up` },
      { label: 'used memory', value: bytes(sum((n) => n.memory?.used)) },
      { label: 'evicted keys', value: String(sum((n) => n.evictedKeys)) },
    ],
    tables: [
      {
        id: 'server-nodes',
        title: 'Nodes',
        columns: [
          'NODE',
          'ROLE',
          'VERSION',
          'USED',
          'MAXMEMORY',
          'POLICY',
          'FRAG',
          'EVICTED',
          'HIT RATIO',
          'OPS/S',
          'CLIENTS',
        ],
        rows: insight.nodes.map((n) => [
          n.address,
          n.role,
          n.version ?? '-',
          bytes(n.memory?.used),
          n.memory?.maxmemory ? bytes(n.memory.maxmemory) : 'none',
          n.memory?.policy ?? '-',
          num(n.memory?.fragmentationRatio, 2),
          n.evictedKeys ?? 0,
          pct(n.hitRatio),
          n.opsPerSec ?? 0,
          n.connectedClients ?? 0,
        ]),
      },
      {
        id: 'server-recommendations',
        title: 'Recommendations',
        columns: ['SEVERITY', 'ID', 'NODE', 'MESSAGE'],
        rows: recommendations.map((r) => [r.severity, r.id, r.node ?? '-', r.message]),
      },
      {
        id: 'server-slowlog',
        title: 'Slow log',
        columns: ['NODE', 'ID', 'DURATION', 'COMMAND'],
        rows: slow.map((e) => [e.node, e.id, `${e.durationMicros} µs`, e.command]),
      },
      {
        id: 'server-bigkeys',
        title: 'Big keys (sampled)',
        columns: ['KEY', 'TYPE', 'MEMORY', 'TTL'],
        rows: (usage?.top ?? []).map((k) => [
          k.key,
          k.type,
          bytes(k.bytes ?? undefined),
          k.ttlMs < 0 ? 'none' : `${Math.round(k.ttlMs / 1000)} s`,
        ]),
      },
    ],
    charts,
    context: {},
  }
}
