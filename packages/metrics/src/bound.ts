import { InvalidArgumentError } from '@cache/client'
import type { HistogramAggregate, MetricDefinition } from './instruments.js'

const PKG = '@cache/metrics'

/**
 * A bound handle as its Metrics sees it: what it accumulated since the last drain is moved into a bucket at
 * each bucket boundary, at each flush and when the handle is released. @internal
 */
export interface Drainable {
  readonly series: string
  /** Nothing accumulated since the last drain. */
  readonly empty: boolean
  /** Moves the accumulated value into `bucket` (the aggregate map of one finest bucket) and resets it. */
  drainInto(bucket: Map<string, unknown>): void
}

/** What a bound handle needs from its Metrics. @internal */
export interface BindingRecorder {
  /**
   * Attaches a handle so that its Metrics drains it. False when records must take the direct path instead:
   * an injected clock (read per record), a closed Metrics, or a series over `maxSeries` (counted as dropped).
   */
  attach(def: MetricDefinition, handle: Drainable): boolean
  /** Drains the handle into the current bucket and stops draining it. */
  detach(def: MetricDefinition, handle: Drainable): void
}

/**
 * A counter bound to one label set (`counter.bind(labels)`): `inc()` adds to a plain number, moved into the
 * current time bucket at its boundary and at each flush, so a record builds no series and looks nothing up.
 * @example const hits = metrics.counter('hits_total', { labels: ['tier'] }).bind({ tier: 'l1' }); hits.inc()
 */
export class BoundCounter implements Drainable {
  /** @internal What was added since the last drain. */
  v = 0
  /** Drained by its Metrics (else every record takes the unbound path). A boolean keeps the field's type stable. */
  #attached: boolean
  readonly #unbound: (series: string, amount: number) => void
  readonly #recorder: BindingRecorder

  /** @internal Built by `Counter.bind()`. */
  constructor(
    readonly definition: MetricDefinition,
    readonly series: string,
    recorder: BindingRecorder,
    direct: (series: string, amount: number) => void,
  ) {
    this.#recorder = recorder
    this.#unbound = direct
    this.#attached = false
    this.#attached = recorder.attach(definition, this)
  }

  /** Moves what the handle counted into the current bucket and detaches it; later calls take the unbound path. */
  release(): void {
    this.#attached = false
    this.#recorder.detach(this.definition, this)
  }

  /** Adds `by` (default 1, must be ≥ 0). */
  inc(by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) {
      throw new InvalidArgumentError(PKG, 'by', `must be a finite number ≥ 0, got ${by}`)
    }
    this.add(by)
  }

  /** Adds an amount the caller checked. @internal */
  add(amount: number): void {
    if (this.#attached) this.v += amount
    else this.#unbound(this.series, amount)
  }

  /** @internal */
  get empty(): boolean {
    return this.v === 0
  }

  /** @internal */
  drainInto(bucket: Map<string, unknown>): void {
    if (this.v === 0) return
    const cell = bucket.get(this.series) as { v: number } | undefined
    if (cell) cell.v += this.v
    else bucket.set(this.series, { v: this.v })
    this.v = 0
  }
}

/**
 * A histogram bound to one label set (`histogram.bind(labels)`): `observe()` counts into the handle's own
 * buckets, merged into the current time bucket at its boundary and at each flush.
 */
export class BoundHistogram implements Drainable {
  readonly #agg: HistogramAggregate = { counts: new Map(), sum: 0, count: 0 }
  readonly #index: (value: number) => number
  #attached: boolean
  readonly #unbound: (value: number) => void
  readonly #recorder: BindingRecorder

  /** @internal Built by `Histogram.bind()`. */
  constructor(
    readonly definition: MetricDefinition,
    readonly series: string,
    recorder: BindingRecorder,
    direct: (value: number) => void,
  ) {
    this.#index = definition.layout!.index
    this.#recorder = recorder
    this.#unbound = direct
    this.#attached = false
    this.#attached = recorder.attach(definition, this)
  }

  /** Moves what the handle counted into the current bucket and detaches it; later calls take the unbound path. */
  release(): void {
    this.#attached = false
    this.#recorder.detach(this.definition, this)
  }

  /** Records one observation (base units: seconds, bytes). */
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(PKG, 'value', `must be finite, got ${value}`)
    this.add(value)
  }

  /** Records a finite value the caller checked. @internal */
  add(value: number): void {
    if (!this.#attached) {
      this.#unbound(value)
      return
    }
    const agg = this.#agg
    const i = this.#index(value)
    agg.counts.set(i, (agg.counts.get(i) ?? 0) + 1)
    agg.sum += value
    agg.count++
  }

  /** @internal */
  get empty(): boolean {
    return this.#agg.count === 0
  }

  /** @internal */
  drainInto(bucket: Map<string, unknown>): void {
    const from = this.#agg
    if (from.count === 0) return
    let to = bucket.get(this.series) as HistogramAggregate | undefined
    if (!to) {
      to = { counts: new Map(), sum: 0, count: 0 }
      bucket.set(this.series, to)
    }
    for (const [i, c] of from.counts) to.counts.set(i, (to.counts.get(i) ?? 0) + c)
    to.sum += from.sum
    to.count += from.count
    from.counts.clear()
    from.sum = 0
    from.count = 0
  }
}
