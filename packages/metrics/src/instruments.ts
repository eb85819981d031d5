import { InvalidArgumentError } from '@cache/client'
import { type BindingRecorder, BoundCounter, BoundHistogram } from './bound.js'
import type { MetricKind } from './names.js'
import type { BucketLayout } from './sketch.js'

const PKG = '@cache/metrics'

/** Label values by label name; only the names given at definition are accepted. */
export type Labels = Readonly<Record<string, string | number | boolean>>

/** The definition of one metric. */
export interface MetricDefinition {
  readonly kind: MetricKind
  readonly name: string
  readonly help: string
  readonly labels: readonly string[]
  /** Histograms only. */
  readonly layout?: BucketLayout
  /** Histograms only: the fixed bounds, or undefined for the log layout. */
  readonly bounds?: readonly number[]
}

/** The in-process state of one series of a histogram between flushes. */
export interface HistogramAggregate {
  counts: Map<number, number>
  sum: number
  count: number
}

/** What an instrument hands to its Metrics between flushes. */
export interface Recorder extends BindingRecorder {
  /** The aggregate of a series in the current bucket, or undefined when the series was dropped (maxSeries). */
  slot(def: MetricDefinition, series: string): Map<string, unknown> | undefined
}

/** Characters JSON.stringify would escape: label values with them take the slow path. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON.stringify escapes exactly these
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * The series field of a label set: the values in definition order, JSON-encoded (built by hand on the hot
 * path; identical to `JSON.stringify(values)`).
 */
export function seriesOf(def: MetricDefinition, labels: Labels | undefined): string {
  const names = def.labels
  if (names.length === 0) {
    if (labels) for (const name in labels) unknownLabel(def, name)
    return '[]'
  }
  let out = '["'
  let given = 0
  let needsEscape = false
  for (let i = 0; i < names.length; i++) {
    const v = labels?.[names[i]!]
    let s = ''
    if (v !== undefined) {
      given++
      s = typeof v === 'string' ? v : String(v)
      if (NEEDS_ESCAPE.test(s)) needsEscape = true
    }
    out += i === 0 ? s : `","${s}`
  }
  if (labels) {
    let count = 0
    for (const _ in labels) count++
    if (count !== given) {
      for (const name of Object.keys(labels)) if (!names.includes(name)) unknownLabel(def, name)
    }
  }
  if (needsEscape)
    return JSON.stringify(names.map((n) => (labels?.[n] === undefined ? '' : String(labels[n]))))
  return `${out}"]`
}

function unknownLabel(def: MetricDefinition, name: string): never {
  throw new InvalidArgumentError(PKG, 'labels', `"${name}" is not a label of ${def.name}`)
}

/** A monotonic counter: `inc(labels?)`, `inc(by, labels?)`. */
export class Counter {
  constructor(
    readonly definition: MetricDefinition,
    private readonly recorder: Recorder,
  ) {}

  /** Adds `by` (default 1, must be ≥ 0) to the series of `labels`. No Redis call: flushed later. */
  inc(by?: number | Labels, labels?: Labels): void {
    let amount = 1
    if (typeof by === 'number') amount = by
    else labels = by
    if (!(amount >= 0) || !Number.isFinite(amount)) {
      throw new InvalidArgumentError(PKG, 'by', `must be a finite number ≥ 0, got ${amount}`)
    }
    this.incSeries(seriesOf(this.definition, labels), amount)
  }

  /**
   * A handle on the series of `labels` whose `inc()` adds to a plain number (no series built, no lookup per
   * record), moved into the time bucket at its boundary and at each flush. Binding reserves the series.
   */
  bind(labels?: Labels): BoundCounter {
    return new BoundCounter(this.definition, seriesOf(this.definition, labels), this.recorder, (series, n) =>
      this.incSeries(series, n),
    )
  }

  /** Adds `amount` (checked by the caller) to a series field built by `seriesOf`. @internal */
  incSeries(series: string, amount: number): void {
    const slot = this.recorder.slot(this.definition, series)
    if (!slot) return
    // A mutable cell: adding to it allocates nothing (a Map of plain numbers would box each new value).
    const cell = slot.get(series) as { v: number } | undefined
    if (cell) cell.v += amount
    else slot.set(series, { v: amount })
  }
}

/** A gauge: the last value set (or collected) per process; queries sum, average or bound it over processes. */
export class Gauge {
  constructor(
    readonly definition: MetricDefinition,
    private readonly recorder: Recorder,
    /** Called before every flush; its value is set on the series without labels (or on each listed series). */
    readonly collect?: () => number | GaugeSample[] | Promise<number | GaugeSample[]>,
  ) {}

  /** Sets the value of the series of `labels`. */
  set(value: number, labels?: Labels): void {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(PKG, 'value', `must be finite, got ${value}`)
    const series = seriesOf(this.definition, labels)
    this.recorder.slot(this.definition, series)?.set(series, value)
  }
}

/** One collected gauge value. */
export interface GaugeSample {
  labels?: Labels
  value: number
}

/** A histogram with mergeable buckets (log-spaced within 1%, or fixed bounds). */
export class Histogram {
  constructor(
    readonly definition: MetricDefinition,
    private readonly recorder: Recorder,
  ) {}

  /** Records one observation (in base units: seconds, bytes). */
  observe(value: number, labels?: Labels): void {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(PKG, 'value', `must be finite, got ${value}`)
    this.observeSeries(seriesOf(this.definition, labels), value)
  }

  /** Records a finite value (checked by the caller) on a series field built by `seriesOf`. @internal */
  observeSeries(series: string, value: number): void {
    const slot = this.recorder.slot(this.definition, series)
    if (!slot) return
    let agg = slot.get(series) as HistogramAggregate | undefined
    if (!agg) {
      agg = { counts: new Map(), sum: 0, count: 0 }
      slot.set(series, agg)
    }
    const index = this.definition.layout!.index(value)
    agg.counts.set(index, (agg.counts.get(index) ?? 0) + 1)
    agg.sum += value
    agg.count += 1
  }

  /** A handle on the series of `labels`: `observe()` counts into the handle, merged at each boundary and flush. */
  bind(labels?: Labels): BoundHistogram {
    const series = seriesOf(this.definition, labels)
    return new BoundHistogram(this.definition, series, this.recorder, (value) =>
      this.observeSeries(series, value),
    )
  }

  /** Starts a timer; the returned function observes the elapsed seconds. */
  startTimer(labels?: Labels): () => number {
    const start = performance.now()
    return () => {
      const seconds = (performance.now() - start) / 1000
      this.observe(seconds, labels)
      return seconds
    }
  }
}

/** Distinct values per time bucket (a HyperLogLog per bucket, ~0.81% standard error); counted over any range. */
export class Uniques {
  constructor(
    readonly definition: MetricDefinition,
    private readonly recorder: Recorder,
  ) {}

  /**
   * Adds a value (a user id, an IP…), counted per label set (e.g. `{ tenant }`): the value is stored only
   * inside the HyperLogLog, never as a label.
   */
  add(value: string | number, labels?: Labels): void {
    const series = seriesOf(this.definition, labels)
    const slot = this.recorder.slot(this.definition, series)
    if (!slot) return
    let set = slot.get(series) as Set<string> | undefined
    if (!set) {
      set = new Set()
      slot.set(series, set)
    }
    set.add(String(value))
  }
}
