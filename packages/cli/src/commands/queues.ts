import { type Connection, escapeGlob } from '@cache/client'
import { Metrics } from '@cache/metrics'
import type { QueueCounts } from '@cache/queue'
import type { Command } from '../command.js'
import { intFlag, stringFlag, windowFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { formatMs, table } from '../output.js'
import { confirm } from '../prompt.js'
import { RESUME_FLAGS, ResumableScan, type ResumableScanOptions, resumeFlags, resumeUsage } from '../scan.js'
import { metricStored, windowValue } from './stats.js'

type QueueModule = typeof import('@cache/queue')
type TypedQueue = ReturnType<QueueModule['defineQueue']>

/** One queue of `cache queues`: its name and @cache/queue's counts per state. */
export interface QueueState extends QueueCounts {
  name: string
}

const DLQ_SUFFIX = '-dlq'

async function load(): Promise<QueueModule> {
  try {
    return await import('@cache/queue')
  } catch {
    throw new UsageError(
      'queues',
      'needs @cache/queue (and its peers bullmq, ioredis) installed next to @cache/cli',
    )
  }
}

/** Queue names in SCAN batches: each BullMQ meta key under the namespace (`<ns>:queue[:{name}]:<name>:meta`). */
function queueNames(conn: Connection, namespace: string, scan: ResumableScanOptions): ResumableScan {
  const match = `${escapeGlob(conn.keys.child(namespace).prefix)}*:meta`
  return new ResumableScan(conn, { match, count: 1000, rate: 0, ...scan })
}

const nameOf = (metaKey: string) => metaKey.slice(0, -':meta'.length).split(':').pop()!

/** Runs `fn` with a schema-less @cache/queue handle on `name` (loaded on demand), closed after. */
export async function withQueue<T>(
  conn: Connection,
  namespace: string,
  name: string,
  fn: (q: TypedQueue) => Promise<T>,
): Promise<T> {
  const { defineQueue } = await load()
  // No job schemas: the CLI only reads counts and moves dead letters, it never validates payloads.
  const q = defineQueue(conn, name, { namespace, jobs: {} })
  try {
    return await fn(q)
  } finally {
    await q.close()
  }
}

/** Every queue of the namespace (found by SCAN on every master) with its counts per state. */
export async function list(conn: Connection, namespace: string): Promise<QueueState[]> {
  return (await scanQueues(conn, namespace)).queues
}

/** The queues of one (possibly resumed, throttled or interrupted) scan, and where it stopped. */
export async function scanQueues(
  conn: Connection,
  namespace: string,
  options: ResumableScanOptions = {},
): Promise<{ queues: QueueState[]; cursor: string | null }> {
  const scan = queueNames(conn, namespace, options)
  const names = new Set<string>()
  for await (const b of scan)
    for (const k of b.keys) if (!nameOf(k).endsWith(DLQ_SUFFIX)) names.add(nameOf(k))
  const queues: QueueState[] = []
  for (const name of [...names].sort())
    queues.push(await withQueue(conn, namespace, name, async (q) => ({ name, ...(await q.stats()).counts })))
  return { queues, cursor: scan.cursor }
}

/** The histograms @cache/metrics' instrument() keeps of every queue's jobs (label `queue`). */
export const QUEUE_LATENCY_METRICS = {
  wait: 'cache_queue_wait_seconds',
  run: 'cache_queue_run_seconds',
} as const

/** p99 of a queue's wait (enqueued to started) and run (started to completed) time, every process, ms. */
export interface QueueLatency {
  waitP99Ms: number | null
  runP99Ms: number | null
}

/** Per queue, p99 wait and run time over the last `windowMs` (a multiple of 10 s) from @cache/metrics. */
export async function queueLatency(
  metrics: Metrics,
  names: readonly string[],
  windowMs: number,
): Promise<Record<string, QueueLatency>> {
  const p99 = async (name: string, queue: string) => {
    const v = await windowValue(metrics, { name, labels: { queue }, fn: 'p99' }, windowMs)
    return v === null ? null : v * 1000
  }
  const rows = await Promise.all(
    names.map(async (queue) => {
      const [waitP99Ms, runP99Ms] = await Promise.all([
        p99(QUEUE_LATENCY_METRICS.wait, queue),
        p99(QUEUE_LATENCY_METRICS.run, queue),
      ])
      return [queue, { waitP99Ms, runP99Ms }] as const
    }),
  )
  return Object.fromEntries(rows)
}

/** The header of the queues table (`cache queues`, the dashboard's queues page); latency columns last. */
export function queueColumns(latency: boolean): string[] {
  const columns = [
    'QUEUE',
    'WAITING',
    'ACTIVE',
    'DELAYED',
    'PRIORITIZED',
    'COMPLETED',
    'FAILED',
    'DEAD LETTERS',
  ]
  return latency ? [...columns, 'WAIT P99', 'RUN P99'] : columns
}

/** One row per queue under queueColumns(); `deadLetters` may style the count (red on a terminal). */
export function queueRows(
  queues: readonly QueueState[],
  latency: Record<string, QueueLatency> | undefined,
  deadLetters: (n: number) => string | number = (n) => n,
): Array<Array<string | number>> {
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : formatMs(v))
  return queues.map((q) => [
    q.name,
    q.waiting,
    q.active,
    q.delayed,
    q.prioritized,
    q.completed,
    q.failed,
    deadLetters(q.deadLetter),
    ...(latency ? [ms(latency[q.name]?.waitP99Ms), ms(latency[q.name]?.runP99Ms)] : []),
  ])
}

export const queuesCommand: Command = {
  name: 'queues',
  summary: '@cache/queue: jobs per state and wait/run p99 of every queue; dlq list / replay',
  usage:
    'queues [--queues-namespace queue] [--metrics metrics] [--window 5m] [--rate N] [--cursor M:C]\n' +
    'queues dlq list <queue> [--limit 20]\n' +
    'queues dlq replay <queue> (--id ID… | --all) [--yes]\n\n' +
    "  --queues-namespace  the queues' namespace (defineQueue(conn, name, { namespace })), default queue\n" +
    '  --metrics           the Metrics namespace whose cache_queue_{wait,run}_seconds give WAIT P99 and RUN P99\n' +
    '                      (default metrics; the columns appear once a process running instrument() flushed them)\n' +
    '  --window            how far back the p99 reaches (a multiple of 10s), default 5m\n' +
    `${resumeUsage(20, 'the SCAN that finds the queues')}\n` +
    "  list prints each dead letter's id, job name, error code and reason, never its data\n" +
    '  replay puts dead letters back on their queue (deduplicated: a second replay enqueues nothing); asks first',
  flags: {
    ...RESUME_FLAGS,
    'queues-namespace': { type: 'string' },
    metrics: { type: 'string' },
    window: { type: 'string' },
    limit: { type: 'string' },
    id: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  },
  async run({ conn, values, positionals, out, io, signal }) {
    const namespace = stringFlag(values, 'queues-namespace', 'queue')!
    const [sub, action, name] = positionals
    if (sub === undefined) {
      const windowMs = windowFlag(values, 'window', '5m')
      const metricsNs = stringFlag(values, 'metrics', 'metrics')!
      const { queues, cursor } = await scanQueues(conn, namespace, { ...resumeFlags(values), signal })
      const stored = await Promise.all(
        Object.values(QUEUE_LATENCY_METRICS).map((m) => metricStored(conn, metricsNs, m)),
      )
      let latency: Record<string, QueueLatency> | undefined
      if (stored.some(Boolean)) {
        const metrics = new Metrics(conn, { namespace: metricsNs })
        try {
          latency = await queueLatency(
            metrics,
            queues.map((q) => q.name),
            windowMs,
          )
        } finally {
          await metrics.close()
        }
      }
      const rows = queues.map((q) => ({ ...q, ...(latency ? latency[q.name] : {}) }))
      out.result({ namespace, metrics: latency ? metricsNs : null, windowMs, queues: rows, cursor }, () => {
        const lines = [
          queues.length === 0
            ? `no queues in ${namespace}`
            : table([
                queueColumns(latency !== undefined),
                ...queueRows(queues, latency, (n) => (n > 0 ? out.style('red', String(n)) : 0)),
              ]),
        ]
        if (cursor) lines.push(`stopped early: resume with --cursor ${cursor}`)
        return lines.join('\n')
      })
      return queues.some((q) => q.deadLetter > 0) ? EXIT.PROBLEM : EXIT.OK
    }
    if (sub !== 'dlq' || (action !== 'list' && action !== 'replay'))
      throw new UsageError(
        'queues',
        `expects "dlq list <queue>" or "dlq replay <queue>", got ${JSON.stringify(positionals.join(' '))}`,
      )
    if (!name) throw new UsageError('<queue>', 'is missing')
    if (action === 'list') {
      const limit = intFlag(values, 'limit', 20, { min: 1, max: 10_000 })
      const letters = await withQueue(conn, namespace, name, (q) => q.deadLetters.list({ limit }))
      const rows = letters.map((d) => ({
        id: d.id,
        name: d.name,
        sourceId: d.sourceId,
        code: d.code ?? null,
        reason: d.reason,
        attempts: d.attempts.length,
        deadAt: new Date(d.deadAt).toISOString(),
      }))
      out.result({ queue: name, deadLetters: rows }, () =>
        rows.length === 0
          ? `no dead letters in ${name}`
          : table([
              ['ID', 'JOB', 'CODE', 'ATTEMPTS', 'DEAD AT', 'REASON'],
              ...rows.map((d) => [d.id, d.name, d.code ?? '-', d.attempts, d.deadAt, d.reason]),
            ]),
      )
      return rows.length > 0 ? EXIT.PROBLEM : EXIT.OK
    }
    const ids = (values.id as string[] | undefined) ?? []
    if (ids.length === 0 && values.all !== true) throw new UsageError('--id', 'or --all is required')
    return withQueue(conn, namespace, name, async (q) => {
      const count = ids.length > 0 ? ids.length : await q.deadLetters.count()
      const ok = values.yes === true || (await confirm(io, `Replay ${count} dead letters of ${name}?`))
      const result = ok
        ? await q.deadLetters.replay(ids.length > 0 ? { ids } : { all: true })
        : { replayed: 0, skipped: 0, ids: [] }
      out.result({ queue: name, confirmed: ok, ...result }, () =>
        ok ? `replayed ${result.replayed}, skipped ${result.skipped}` : 'not confirmed: nothing replayed',
      )
      return ok ? EXIT.OK : EXIT.PROBLEM
    })
  },
}
