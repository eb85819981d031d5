import { decisionsOf, formatBytes, listQueues, sampleStats, topDenied, withQueue } from '@cache/cli'
import { hgetallRecord } from '@cache/client'
import { findDeadlocks, LockManager } from '@cache/locks'
import type { BigKeysReport, Metrics, Recommendation } from '@cache/metrics'
import { RateLimitKeys, RuleStore } from '@cache/ratelimit'
import { SessionManager, type SessionStats } from '@cache/session'
import { type Chart, chart, type LineSpec, ratio, total } from './charts.js'
import type { DashboardAlerts, ResolvedDashboardOptions } from './options.js'

/** The pages, in the order of the navigation. */
export const PAGES = ['overview', 'caches', 'limits', 'locks', 'queues', 'sessions', 'server'] as const
/** One page of the dashboard. */
export type PageName = (typeof PAGES)[number]

/** What a page shows: figures, tables and charts (JSON over the API and the live stream). */
export interface PageData {
  page: PageName
  at: number
  rangeMs: number
  /** Headline figures (label -> value). */
  figures: Array<{ label: string; value: string; level?: 'ok' | 'warning' | 'critical' }>
  tables: Array<{ id: string; title: string; columns: string[]; rows: Array<Array<string | number>> }>
  charts: Chart[]
  /** Page-specific facts the actions need (queue names, cache names, tenants). */
  context: Record<string, unknown>
}

const REQUESTS = 'cache_requests_total'
const COMMANDS = 'cache_redis_command_duration_seconds'

/** Distinct values of `labels` in a metric's stored series (from its cumulative snapshot). */
async function labelValues(metrics: Metrics, name: string, labels: string[]): Promise<string[][]> {
  const snap = await metrics.snapshot({ names: [name] }).catch(() => [])
  const seen = new Map<string, string[]>()
  for (const m of snap)
    for (const s of m.series) {
      const v = labels.map((l) => s.labels[l] ?? '')
      seen.set(JSON.stringify(v), v)
    }
  return [...seen.values()].sort((a, b) => a.join('\0').localeCompare(b.join('\0')))
}

const pct = (r: number | null | undefined) =>
  r === null || r === undefined ? '-' : `${(r * 100).toFixed(1)}%`
const num = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '-' : v.toFixed(digits)
const bytes = (n: number | undefined) => (n === undefined ? '-' : formatBytes(n))

function hitRatioLines(groups: string[][], labelNames: string[]): LineSpec[] {
  return groups.map((g) => {
    const labels = Object.fromEntries(labelNames.map((l, i) => [l, g[i]!]))
    return {
      label: g.join(' '),
      queries: ['hit', 'miss', 'stale'].map((outcome) => ({
        name: REQUESTS,
        fn: 'increase' as const,
        labels: { ...labels, outcome },
      })),
      combine: ratio,
    }
  })
}

async function overview(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
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

async function caches(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
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

async function limits(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
  const { conn, metrics } = o
  const ns = o.namespaces.limits
  const statsKey = new RateLimitKeys(conn.keys.child(ns)).ruleStats()
  const store = new RuleStore(conn, { namespace: ns })
  try {
    const [rules, stats, denied, rulesSeen, outages] = await Promise.all([
      store.list(),
      conn.send(['HGETALL', statsKey], { key: statsKey }).then((r) => hgetallRecord<string>(r)),
      topDenied(conn, ns, 10),
      labelValues(metrics, 'cache_ratelimit_decisions_total', ['rule']),
      metrics.snapshot({ names: ['cache_ratelimit_outages_total'] }).catch(() => []),
    ])
    const decisions = decisionsOf(stats)
    let down = 0
    let up = 0
    for (const m of outages)
      for (const s of m.series) {
        if (s.labels.state === 'down') down += s.value
        else if (s.labels.state === 'up') up += s.value
      }
    const names = [...new Set([...Object.keys(rules), ...Object.keys(decisions)])].sort()
    const charts = await Promise.all([
      chart(
        metrics,
        { id: 'limit-decisions', title: 'Decisions', unit: 'decisions/s' },
        [
          {
            label: 'allowed',
            queries: [
              { name: 'cache_ratelimit_decisions_total', fn: 'rate', labels: { outcome: 'allowed' } },
            ],
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
        { label: 'rules', value: String(names.length) },
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
          columns: ['RULE', 'DEFINITION', 'ALLOWED', 'DENIED', 'DENIED %'],
          rows: names.map((name) => {
            const d = decisions[name] ?? { allowed: 0, denied: 0 }
            const all = d.allowed + d.denied
            return [
              name,
              rules[name] ? JSON.stringify(rules[name]) : '-',
              d.allowed,
              d.denied,
              all ? pct(d.denied / all) : '-',
            ]
          }),
        },
        {
          id: 'limit-top',
          title: 'Most denied keys (as stored: hashed when the application hashes them)',
          columns: ['KEY', 'RULE', 'DENIED', 'ALLOWED'],
          rows: denied.map((d) => [d.key, d.rule, d.denied, d.allowed]),
        },
      ],
      charts,
      context: {},
    }
  } finally {
    await store.close()
  }
}

async function locks(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
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

async function queues(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
  const ns = o.namespaces.queues
  const list = await listQueues(o.conn, ns).catch(() => [])
  const letters = await Promise.all(
    list
      .filter((q) => q.deadLetter > 0)
      .map((q) =>
        withQueue(o.conn, ns, q.name, (h) => h.deadLetters.list({ limit: 50 })).then((ds) =>
          ds.map((d) => ({ ...d, queue: q.name })),
        ),
      ),
  )
  const events = ['completed', 'failed', 'retried', 'stalled', 'dead-letter']
  const charts = await Promise.all([
    chart(
      o.metrics,
      { id: 'queue-throughput', title: 'Jobs', unit: 'jobs/s' },
      events.map((event) => ({
        label: event,
        queries: [{ name: 'cache_queue_jobs_total', fn: 'rate' as const, labels: { event } }],
      })),
      rangeMs,
    ),
  ])
  const dead = list.reduce((a, q) => a + q.deadLetter, 0)
  return {
    figures: [
      { label: 'queues', value: String(list.length) },
      { label: 'waiting', value: String(list.reduce((a, q) => a + q.waiting, 0)) },
      { label: 'active', value: String(list.reduce((a, q) => a + q.active, 0)) },
      { label: 'dead letters', value: String(dead), level: dead > 0 ? 'warning' : 'ok' },
    ],
    tables: [
      {
        id: 'queue-counts',
        title: 'Jobs per state',
        columns: [
          'QUEUE',
          'WAITING',
          'ACTIVE',
          'DELAYED',
          'PRIORITIZED',
          'COMPLETED',
          'FAILED',
          'DEAD LETTERS',
        ],
        rows: list.map((q) => [
          q.name,
          q.waiting,
          q.active,
          q.delayed,
          q.prioritized,
          q.completed,
          q.failed,
          q.deadLetter,
        ]),
      },
      {
        id: 'queue-dlq',
        title: 'Dead letters (data not shown)',
        columns: ['QUEUE', 'ID', 'JOB', 'CODE', 'ATTEMPTS', 'DEAD AT', 'REASON'],
        rows: letters
          .flat()
          .map((d) => [
            d.queue,
            d.id,
            d.name,
            d.code ?? '-',
            d.attempts.length,
            new Date(d.deadAt).toISOString(),
            d.reason,
          ]),
      },
    ],
    charts,
    context: { queues: list.map((q) => ({ name: q.name, deadLetters: q.deadLetter })) },
  }
}

/** Every tenant's SessionStats, through @cache/session (a reader: no sweep, no keyring needed). */
async function tenantStats(o: ResolvedDashboardOptions): Promise<Array<SessionStats & { tenant: string }>> {
  const manager = new SessionManager(o.conn, { namespace: o.namespaces.sessions, sweepInterval: false })
  try {
    const tenants = await manager.tenants()
    const out = await Promise.all(
      tenants.map(async (tenant) => ({ tenant, ...(await manager.stats(tenant)) })),
    )
    return out.sort((a, b) => b.activeSessions - a.activeSessions || a.tenant.localeCompare(b.tenant))
  } finally {
    await manager.close()
  }
}

async function sessions(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
  const list = await tenantStats(o)
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

interface ServerSample {
  t: number
  used: number
  rss: number
  ops: number
  fragmentation: number
}

// Server samples taken when the server page is read (INFO is not a stored metric), per connection.
const samples = new WeakMap<object, ServerSample[]>()
// Results that SCAN and sample keys, kept a minute per connection (a live page must not scan every tick).
const slow = new WeakMap<object, Map<string, { at: number; value: Promise<unknown> }>>()
const SAMPLES = 720
const SLOW_TTL_MS = 60_000

/** `read()` of the connection, run again at most once a minute (it SCANs and samples). */
function everyMinute<T>(o: ResolvedDashboardOptions, name: string, read: () => Promise<T>): Promise<T> {
  const map = slow.get(o.conn) ?? new Map<string, { at: number; value: Promise<unknown> }>()
  slow.set(o.conn, map)
  const hit = map.get(name)
  if (hit && Date.now() - hit.at < SLOW_TTL_MS) return hit.value as Promise<T>
  const value = read()
  map.set(name, { at: Date.now(), value })
  return value
}

/** The big-keys report (2 000 sampled keys of the connection's namespace), at most once a minute. */
function bigKeysCached(o: ResolvedDashboardOptions): Promise<BigKeysReport | undefined> {
  return everyMinute(o, 'bigKeys', () => o.metrics.bigKeys({ sample: 2000, top: 20 }).catch(() => undefined))
}

/** metrics.recommendations() (INFO of every node and a 2 000-key sample of the server), at most once a minute. */
function recommendationsCached(o: ResolvedDashboardOptions): Promise<Recommendation[]> {
  return everyMinute(o, 'recommendations', () => o.metrics.recommendations().catch(() => []))
}

async function server(
  o: ResolvedDashboardOptions,
  rangeMs: number,
): Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>> {
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

const READERS: Record<
  PageName,
  (o: ResolvedDashboardOptions, rangeMs: number) => Promise<Omit<PageData, 'page' | 'at' | 'rangeMs'>>
> = {
  overview,
  caches,
  limits,
  locks,
  queues,
  sessions,
  server,
}

/** Reads everything one page shows. */
export async function readPage(
  o: ResolvedDashboardOptions,
  page: PageName,
  rangeMs: number,
): Promise<PageData> {
  return { page, at: Date.now(), rangeMs, ...(await READERS[page](o, rangeMs)) }
}
