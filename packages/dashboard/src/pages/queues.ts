import {
  QUEUE_LATENCY_METRICS,
  queueColumns,
  queueLatency,
  queueRows,
  scanQueues,
  withQueue,
} from '@cache/cli'
import { chart, type LineSpec } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'
import type { PageBody } from './page.js'

const EVENTS = ['completed', 'failed', 'retried', 'stalled', 'dead-letter']

/** p99 of one latency histogram per queue, in ms (what `cache queues` shows, over time). */
function p99Lines(queues: readonly string[], what: keyof typeof QUEUE_LATENCY_METRICS): LineSpec[] {
  return queues.map((queue) => ({
    label: `${queue} ${what} p99`,
    queries: [{ name: QUEUE_LATENCY_METRICS[what], fn: 'p99' as const, labels: { queue } }],
    scale: 1000,
  }))
}

/** The queues page: counts per state, throughput, wait/run p99 per queue, the dead letters. */
export async function queues(o: ResolvedDashboardOptions, rangeMs: number): Promise<PageBody> {
  const ns = o.namespaces.queues
  const list = (await scanQueues(o.conn, ns).catch(() => ({ queues: [] }))).queues
  const names = list.map((q) => q.name)
  const [letters, latency, charts] = await Promise.all([
    Promise.all(
      list
        .filter((q) => q.deadLetter > 0)
        .map((q) =>
          withQueue(o.conn, ns, q.name, (h) => h.deadLetters.list({ limit: 50 })).then((ds) =>
            ds.map((d) => ({ ...d, queue: q.name })),
          ),
        ),
    ),
    // One p99 over the picked range (the charts show it step by step).
    queueLatency(o.metrics, names, rangeMs).catch(() => undefined),
    Promise.all([
      chart(
        o.metrics,
        { id: 'queue-throughput', title: 'Jobs', unit: 'jobs/s' },
        EVENTS.map((event) => ({
          label: event,
          queries: [{ name: 'cache_queue_jobs_total', fn: 'rate' as const, labels: { event } }],
        })),
        rangeMs,
      ),
      chart(
        o.metrics,
        { id: 'queue-wait', title: 'Wait p99 (enqueued to started), every process', unit: 'ms' },
        p99Lines(names, 'wait'),
        rangeMs,
      ),
      chart(
        o.metrics,
        { id: 'queue-run', title: 'Run p99 (started to completed), every process', unit: 'ms' },
        p99Lines(names, 'run'),
        rangeMs,
      ),
    ]),
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
        title: 'Jobs per state; wait and run p99 over the range',
        columns: queueColumns(true),
        rows: queueRows(list, latency ?? {}),
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
