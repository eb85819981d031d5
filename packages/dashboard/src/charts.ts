import type { Labels, Metrics, QueryFn } from '@cache/metrics'
import { CHART_POINTS } from './defaults.js'

/** One line of a chart. */
export interface ChartSeries {
  label: string
  values: Array<number | null>
}

/** A chart as the page draws it: x in seconds since the epoch (uPlot's), one array per line. */
export interface Chart {
  id: string
  title: string
  unit: string
  t: number[]
  series: ChartSeries[]
}

/** One query of a chart line. */
export interface LineQuery {
  name: string
  fn: QueryFn
  labels?: Labels
}

/** A chart line: one query scaled, or several combined by `combine`. */
export interface LineSpec {
  label: string
  queries: LineQuery[]
  /** Combines the queries' values at one time (default: the first, times `scale`). */
  combine?: (values: Array<number | null>) => number | null
  scale?: number
}

/** The time window of a range: `[from, to)` and a step of about CHART_POINTS points, a multiple of 10 s. */
export function windowOf(rangeMs: number, now = Date.now()): { from: number; to: number; step: number } {
  const step = Math.max(10_000, Math.ceil(rangeMs / CHART_POINTS / 10_000) * 10_000)
  const to = now + 1
  return { from: to - rangeMs, to, step }
}

/** Queries every line of a chart over the window and aligns them on one time axis. */
export async function chart(
  metrics: Metrics,
  spec: { id: string; title: string; unit: string },
  lines: LineSpec[],
  rangeMs: number,
): Promise<Chart> {
  const { from, to, step } = windowOf(rangeMs)
  const results = await Promise.all(
    lines.map((l) =>
      Promise.all(
        l.queries.map((q) =>
          metrics
            .query({ name: q.name, fn: q.fn, from, to, step, ...(q.labels ? { labels: q.labels } : {}) })
            .then((r) => r.points)
            // A metric nothing has stored yet reads as no points (the line stays empty).
            .catch(() => []),
        ),
      ),
    ),
  )
  const times = new Set<number>()
  for (const line of results) for (const points of line) for (const p of points) times.add(p.t)
  const t = [...times].sort((a, b) => a - b)
  const series = lines.map((l, i): ChartSeries => {
    const byT = results[i]!.map((points) => new Map(points.map((p) => [p.t, p.value])))
    const combine = l.combine ?? ((v) => (v[0] === null || v[0] === undefined ? null : v[0] * (l.scale ?? 1)))
    return { label: l.label, values: t.map((time) => combine(byT.map((m) => m.get(time) ?? null))) }
  })
  return { ...spec, t: t.map((x) => Math.floor(x / 1000)), series }
}

/** hits / (hits + misses + stale) of one time, null without reads. */
export function ratio(values: Array<number | null>): number | null {
  const [hit, ...rest] = values.map((v) => v ?? 0)
  const total = (hit ?? 0) + rest.reduce((a, b) => a + b, 0)
  return total > 0 ? (hit ?? 0) / total : null
}

/** The sum of the values of one time, null when all are null. */
export function total(values: Array<number | null>): number | null {
  return values.every((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0)
}
