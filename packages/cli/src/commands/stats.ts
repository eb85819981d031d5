import { type Connection, parseDuration, parseInfo, sleep } from '@cache/client'
import { Metrics, type QueryOptions } from '@cache/metrics'
import type { Command } from '../command.js'
import { intFlag, stringFlag, windowFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { formatMs, table } from '../output.js'
import { sortedMasters } from '../scan.js'

/** Reads of one cache namespace and tier in the window. */
export interface TierStats {
  namespace: string
  tier: string
  hits: number
  misses: number
  stale: number
  /** hits / (hits + misses + stale); null without reads. */
  hitRatio: number | null
  readsPerSecond: number
}

/** The result of `cache stats` (one sample of `--watch`). */
export interface StatsResult {
  at: string
  windowMs: number
  /** From @cache/metrics (every process that flushed): reads per cache tier, Redis commands, errors. */
  caches: TierStats[]
  commands: { perSecond: number; p50Ms: number | null; p99Ms: number | null; errors: Record<string, number> }
  /** From INFO on every master, right now. */
  server: {
    opsPerSecond: number
    clients: number
    keyspaceHitRatio: number | null
    evictedKeys: number
    expiredKeys: number
  }
}

const REQUESTS = 'cache_requests_total'
const COMMANDS = 'cache_redis_command_duration_seconds'

/** The label sets a metric has seen: its `{name}:total` hash's fields (`["app","redis","hit"]`). */
async function seriesOf(conn: Connection, metricsNs: string, name: string): Promise<string[][]> {
  const key = conn.keys.child(metricsNs).tagged(name, 'total')
  const fields = (await conn.send<string[]>(['HKEYS', key], { key, readonly: true })).map(String)
  const out = new Map<string, string[]>()
  for (const f of fields) {
    if (f.startsWith('#')) continue
    const json = f.includes('|') ? f.slice(0, f.lastIndexOf('|')) : f
    try {
      out.set(json, JSON.parse(json) as string[])
    } catch {
      // Not a series field.
    }
  }
  return [...out.values()]
}

/** Whether any process has flushed `name` into the Metrics namespace (its `{name}:total` hash exists). */
export async function metricStored(conn: Connection, metricsNs: string, name: string): Promise<boolean> {
  const key = conn.keys.child(metricsNs).tagged(name, 'total')
  return Number(await conn.send(['EXISTS', key], { key, readonly: true })) === 1
}

/**
 * One value of `query` over the last `windowMs` (`fn` p99: of every observation in it). The step is the
 * window, so the reply is the window (up to one bucket behind, aligned) and the unfinished bucket after
 * it: the first, unless it has no data.
 */
export async function windowValue(
  metrics: Metrics,
  query: Pick<QueryOptions, 'name' | 'labels' | 'fn'>,
  windowMs: number,
): Promise<number | null> {
  const to = Date.now() + 1
  const r = await metrics.query({ ...query, from: to - windowMs, to, step: windowMs })
  return r.points[0]?.value ?? [...r.points].reverse().find((p) => p.value !== null)?.value ?? null
}

/** One sample of stats: the last `windowMs` from @cache/metrics plus INFO of every master. */
export async function sampleStats(
  conn: Connection,
  metrics: Metrics,
  metricsNs: string,
  windowMs: number,
): Promise<StatsResult> {
  const to = Date.now() + 1
  const from = to - windowMs
  const step = windowMs
  const increase = async (name: string, labels: Record<string, string>) => {
    const r = await metrics.query({ name, labels, from, to, step, fn: 'increase' })
    return r.points.reduce((s, p) => s + (p.value ?? 0), 0)
  }
  const spanSeconds = Math.max(1, (to - Math.floor(from / step) * step) / 1000)
  const requestSeries = await seriesOf(conn, metricsNs, REQUESTS)
  const tiers = [
    ...new Map(requestSeries.map((s) => [`${s[0]}\u0000${s[1]}`, [s[0]!, s[1]!] as const])).values(),
  ]
  const caches = await Promise.all(
    tiers.map(async ([namespace, tier]): Promise<TierStats> => {
      const [hits, misses, stale] = await Promise.all(
        ['hit', 'miss', 'stale'].map((outcome) => increase(REQUESTS, { namespace, tier, outcome })),
      )
      const reads = hits! + misses! + stale!
      return {
        namespace,
        tier,
        hits: hits!,
        misses: misses!,
        stale: stale!,
        hitRatio: reads > 0 ? hits! / reads : null,
        readsPerSecond: reads / spanSeconds,
      }
    }),
  )
  caches.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.tier.localeCompare(b.tier))
  const outcomes = [
    ...new Set((await seriesOf(conn, metricsNs, COMMANDS)).map((s) => s[2]!).filter((o) => o !== 'ok')),
  ]
  const [count, p50s, p99s, ...errorCounts] = await Promise.all([
    metrics.query({ name: COMMANDS, from, to, step, fn: 'increase' }),
    windowValue(metrics, { name: COMMANDS, fn: 'p50' }, windowMs),
    windowValue(metrics, { name: COMMANDS, fn: 'p99' }, windowMs),
    ...outcomes.map((outcome) => increase(COMMANDS, { outcome })),
  ])
  const errors: Record<string, number> = {}
  outcomes.forEach((o, i) => {
    if ((errorCounts[i] as number) > 0) errors[o] = errorCounts[i] as number
  })
  const infos = await Promise.all(
    (await sortedMasters(conn)).map(async (m) =>
      parseInfo(String(await m.send(['INFO', 'stats', 'clients']))),
    ),
  )
  const sum = (field: string) => infos.reduce((s, i) => s + Number(i[field] ?? 0), 0)
  const kHits = sum('keyspace_hits')
  const kMisses = sum('keyspace_misses')
  return {
    at: new Date().toISOString(),
    windowMs,
    caches,
    commands: {
      perSecond: count.points.reduce((s, p) => s + (p.value ?? 0), 0) / spanSeconds,
      p50Ms: p50s === null ? null : p50s * 1000,
      p99Ms: p99s === null ? null : p99s * 1000,
      errors,
    },
    server: {
      opsPerSecond: sum('instantaneous_ops_per_sec'),
      clients: sum('connected_clients'),
      keyspaceHitRatio: kHits + kMisses > 0 ? kHits / (kHits + kMisses) : null,
      evictedKeys: sum('evicted_keys'),
      expiredKeys: sum('expired_keys'),
    },
  }
}

const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`)
const ms = (v: number | null) => (v === null ? '-' : formatMs(v))

function render(s: StatsResult): string {
  const errors = Object.entries(s.commands.errors)
  return [
    `${s.at}  window ${formatMs(s.windowMs)}`,
    `server   ${s.server.opsPerSecond} ops/s, ${s.server.clients} clients, keyspace hit ratio ${pct(s.server.keyspaceHitRatio)}, evicted ${s.server.evictedKeys}, expired ${s.server.expiredKeys}`,
    `commands ${s.commands.perSecond.toFixed(1)}/s, p50 ${ms(s.commands.p50Ms)}, p99 ${ms(s.commands.p99Ms)}, errors ${errors.length === 0 ? 0 : errors.map(([k, v]) => `${k} ${v}`).join(', ')}`,
    s.caches.length === 0
      ? 'caches   no reads recorded (is instrument(metrics) running in the applications?)'
      : table([
          ['CACHE', 'TIER', 'READS/S', 'HIT RATIO', 'HITS', 'MISSES', 'STALE'],
          ...s.caches.map((c) => [
            c.namespace,
            c.tier,
            c.readsPerSecond.toFixed(1),
            pct(c.hitRatio),
            c.hits,
            c.misses,
            c.stale,
          ]),
        ]),
  ].join('\n')
}

/** One line per sample when stdout is not a terminal (like `redis-cli --stat`). */
function line(s: StatsResult): string {
  const reads = s.caches.reduce((a, c) => a + c.hits + c.misses + c.stale, 0)
  const hits = s.caches.reduce((a, c) => a + c.hits, 0)
  const errors = Object.values(s.commands.errors).reduce((a, b) => a + b, 0)
  return `${s.at}  ops/s ${s.server.opsPerSecond}  cmd/s ${s.commands.perSecond.toFixed(1)}  p99 ${ms(s.commands.p99Ms)}  hit ${pct(reads > 0 ? hits / reads : null)}  errors ${errors}`
}

export const statsCommand: Command = {
  name: 'stats',
  summary:
    'ops/s, hit ratios per cache and tier, command latency and errors from @cache/metrics; --watch redraws',
  usage:
    'stats [--window 1m] [--metrics metrics] [--watch] [--interval 2s] [--iterations N]\n\n' +
    '  --window      how far back the @cache/metrics figures reach (a multiple of 10s)\n' +
    '  --metrics     the Metrics namespace (new Metrics(conn, { namespace })), default metrics\n' +
    '  --watch       sample again every --interval until Ctrl-C (or --iterations): redraws on a terminal,\n' +
    '                one line per sample elsewhere, one JSON document per line with --json',
  flags: {
    window: { type: 'string' },
    metrics: { type: 'string' },
    watch: { type: 'boolean', short: 'w' },
    interval: { type: 'string' },
    iterations: { type: 'string' },
  },
  async run({ conn, values, out, signal }) {
    const duration = (name: string, fallback: string) => {
      const raw = stringFlag(values, name, fallback)!
      try {
        const v = parseDuration(raw)
        if (v > 0) return v
      } catch {}
      throw new UsageError(`--${name}`, `must be a duration like 10s or 1m, got ${JSON.stringify(raw)}`)
    }
    const windowMs = windowFlag(values, 'window', '1m')
    const metricsNs = stringFlag(values, 'metrics', 'metrics')!
    const metrics = new Metrics(conn, { namespace: metricsNs })
    try {
      if (values.watch !== true) {
        const s = await sampleStats(conn, metrics, metricsNs, windowMs)
        out.result(s, () => render(s))
        return Object.keys(s.commands.errors).length > 0 ? EXIT.PROBLEM : EXIT.OK
      }
      const interval = duration('interval', '2s')
      const iterations = intFlag(values, 'iterations', 0)
      for (let i = 0; (iterations === 0 || i < iterations) && !signal.aborted; i++) {
        if (i > 0) await sleep(interval, signal).catch(() => undefined)
        if (signal.aborted) break
        const s = await sampleStats(conn, metrics, metricsNs, windowMs)
        if (out.json) out.write(`${JSON.stringify(s)}\n`)
        else if (out.interactive) out.write(`\x1b[H\x1b[2J${render(s)}\n`)
        else out.write(`${line(s)}\n`)
      }
      return EXIT.OK
    } finally {
      await metrics.close()
    }
  },
}
