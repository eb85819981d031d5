import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { hostname } from 'node:os'
import {
  ClosedError,
  type Connection,
  InvalidArgumentError,
  type KeyBuilder,
  type ScriptFn,
} from '@cache/client'
import { type AlertRule, Alerts, type AlertsOptions } from './alerts.js'
import { type BigKeysOptions, type BigKeysReport, bigKeys } from './big-keys.js'
import type { Drainable } from './bound.js'
import * as D from './defaults.js'
import {
  Counter,
  Gauge,
  type GaugeSample,
  Histogram,
  type MetricDefinition,
  type Recorder,
  Uniques,
} from './instruments.js'
import { type MetricKind, validateNames } from './names.js'
import { type MetricsOptions, type ResolvedMetricsOptions, resolveOptions } from './options.js'
import { type QueryOptions, type QueryResult, runQuery } from './query.js'
import {
  KeySampleCache,
  type Recommendation,
  type RecommendationOptions,
  recommend,
} from './recommendations.js'
import { flush as flushLua } from './scripts/index.js'
import { type Batch, type MetricState, sealBatch } from './seal.js'
import { type ServerInsight, type ServerOptions, serverInsight } from './server.js'
import { fixedLayout, LOG_LAYOUT } from './sketch.js'
import { discoverMetrics, type MetricSnapshot, readSnapshot, type SnapshotOptions } from './snapshot.js'

const PKG = '@cache/metrics'

/** diagnostics_channel `cache:metrics:flush`: `{ batches, applied, duplicates, pending, lostBatches, error? }`. */
export const flushChannel = diagnostics.channel('cache:metrics:flush')

/** Options of `metrics.counter()`. */
export interface CounterOptions {
  /** One line describing the metric (Prometheus HELP). */
  help?: string
  /** Label names; values must be bounded (never a key or a user id). @default [] */
  labels?: readonly string[]
}

/** Options of `metrics.gauge()`. */
export interface GaugeOptions extends CounterOptions {
  /** Called before every flush; its result is set on the gauge. */
  collect?: () => number | GaugeSample[] | Promise<number | GaugeSample[]>
}

/** Options of `metrics.uniques()`: labels split the distinct counts (per tenant, per route), never hold the values. */
export type UniquesOptions = CounterOptions

/** Options of `metrics.histogram()`. */
export interface HistogramOptions extends CounterOptions {
  /** `'log'`: log-spaced buckets, every quantile within 1% (relative); or fixed upper bounds. @default 'log' */
  buckets?: 'log' | readonly number[]
}

/** What one flush did. */
export interface FlushResult {
  /** Batches applied by this flush (including retried ones). */
  applied: number
  /** Batches the server had already applied (a retry after a lost reply): ignored, not counted twice. */
  duplicates: number
  /** Batches still waiting for a retry (Redis unreachable). */
  pending: number
  /** Batches dropped since the start because more than `maxPendingBatches` were waiting (the loss bound). */
  lostBatches: number
}

/**
 * Counters, gauges, histograms and uniques aggregated in-process and flushed to Redis every `flushInterval`
 * (one idempotent script call per metric, i.e. per cluster slot); queried across every process that wrote.
 * @example
 * const metrics = new Metrics(conn, { namespace: 'metrics' })
 * const reqs = metrics.counter('http_requests_total', { labels: ['route'] })
 * reqs.inc({ route: '/a' })
 * await metrics.query({ name: 'http_requests_total', from: Date.now() - 60_000, to: Date.now(), step: '10s', fn: 'rate' })
 */
export class Metrics implements Recorder {
  readonly options: ResolvedMetricsOptions
  readonly keys: KeyBuilder
  readonly #conn: Connection
  readonly #metrics = new Map<string, MetricState>()
  readonly #script: ScriptFn<number>
  readonly #timer: NodeJS.Timeout
  readonly #epoch: string
  #seq = 0
  #lostBatches = 0
  #flushing: Promise<FlushResult> | undefined
  #closed: Promise<void> | undefined
  #final = false
  /** The real clock: the current bucket ends by a timer instead of a clock read per record. */
  readonly #coarse: boolean
  #dropped: Counter | undefined
  readonly #keySample: KeySampleCache
  /** The timer that drains bound handles at the next finest-bucket boundary, while any is attached. */
  #boundary: NodeJS.Timeout | undefined

  constructor(conn: Connection, options: MetricsOptions = {}) {
    this.options = resolveOptions(options, `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`)
    this.#conn = conn
    this.#coarse = this.options.clock === Date.now
    this.keys = conn.keys.child(this.options.namespace)
    this.#script = conn.defineScript<number>('metrics-flush', flushLua, { keys: 2 })
    // Keys vary per batch: the script function checks the count, so it is wrapped per call below.
    this.#epoch = String(Date.now()).padStart(14, '0')
    this.#timer = setInterval(() => void this.flush().catch(() => {}), this.options.flushIntervalMs)
    this.#timer.unref()
    this.#keySample = new KeySampleCache(
      (sample) => bigKeys(conn, { match: '*', sample, top: 20 }),
      this.options.clock,
    )
  }

  /** The connection queries and flushes go through. */
  get connection(): Connection {
    return this.#conn
  }

  /** Defines (or returns the existing) counter; the name must end in `_total`. */
  counter(name: string, options: CounterOptions = {}): Counter {
    return this.#define('counter', name, options, (def) => new Counter(def, this)) as Counter
  }

  /** Defines (or returns the existing) gauge. */
  gauge(name: string, options: GaugeOptions = {}): Gauge {
    return this.#define('gauge', name, options, (def) => new Gauge(def, this, options.collect)) as Gauge
  }

  /** Defines (or returns the existing) histogram, with log-spaced (default) or fixed buckets. */
  histogram(name: string, options: HistogramOptions = {}): Histogram {
    return this.#define('histogram', name, options, (def) => new Histogram(def, this)) as Histogram
  }

  /**
   * Defines (or returns the existing) uniques metric: distinct values (HyperLogLog per bucket and label set).
   * @example const active = metrics.uniques('active_users', { labels: ['tenant'] }); active.add(userId, { tenant })
   */
  uniques(name: string, options: UniquesOptions = {}): Uniques {
    return this.#define('uniques', name, options, (def) => new Uniques(def, this)) as Uniques
  }

  /** Every metric defined in this process. */
  definitions(): MetricDefinition[] {
    return [...this.#metrics.values()].map((m) => m.def)
  }

  /** Runs a query over every process's data; see QueryOptions. */
  query(options: QueryOptions): Promise<QueryResult> {
    return runQuery(this.#conn, this.keys, this.options, options, (name) => this.#metrics.get(name)?.def)
  }

  /**
   * The cumulative state of every metric (or of `names`) merged over every process that flushed it, read from
   * Redis: what the Prometheus and OpenTelemetry exports serve, so N processes are scraped once.
   */
  async snapshot(options: SnapshotOptions = {}): Promise<MetricSnapshot[]> {
    const names = options.names
      ? [...options.names]
      : [...new Set([...this.#metrics.keys(), ...(await discoverMetrics(this.#conn, this.keys))])].sort()
    for (const name of names) {
      if (typeof name !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
        throw new InvalidArgumentError(PKG, 'names', `must be metric names, got ${JSON.stringify(name)}`)
      }
    }
    const stale = options.staleAfterMs ?? D.DEFAULT_GAUGE_STALE_MS
    return readSnapshot(this.#conn, this.keys, names, this.options.clock(), stale)
  }

  /**
   * Alert rules over the stored series, evaluated by one process at a time (see Alerts).
   * @example metrics.alerts([{ name: 'low-hit-ratio', expr: { fn: 'ratio', of: ['cache_hits_total', 'cache_requests_total'] }, below: 0.8, for: '5m' }])
   */
  alerts(rules: readonly AlertRule[], options?: AlertsOptions): Alerts {
    if (this.#closed) throw new ClosedError(`[${PKG}] metrics are closed`)
    return new Alerts(this, rules, options)
  }

  /** INFO (parsed), SLOWLOG, LATENCY LATEST and MEMORY STATS of every master and replica; never throws per node. */
  server(options?: ServerOptions): Promise<ServerInsight> {
    return serverInsight(this.#conn, options)
  }

  /** Samples keys by SCAN on every master and ranks them by MEMORY USAGE; keys without TTL and size by prefix. */
  bigKeys(options?: BigKeysOptions): Promise<BigKeysReport> {
    return bigKeys(this.#conn, options)
  }

  /**
   * Advice from `server()` (read on every call) and a key sample of the whole server (eviction policy, TTLs,
   * fragmentation…); the sample is reused for `sampleMaxAge` (5 minutes by default).
   */
  async recommendations(options: RecommendationOptions = {}): Promise<Recommendation[]> {
    const [insight, keys] = await Promise.all([this.server({ slowlog: 10 }), this.#keySample.get(options)])
    return recommend(insight, keys, options)
  }

  #define(
    kind: MetricKind,
    name: string,
    options: HistogramOptions,
    make: (def: MetricDefinition) => Counter | Gauge | Histogram | Uniques,
  ): Counter | Gauge | Histogram | Uniques {
    if (this.#closed) throw new ClosedError(`[${PKG}] metrics are closed`)
    const labels = options.labels ?? []
    validateNames(kind, name, labels)
    const existing = this.#metrics.get(name)
    if (existing) {
      if (existing.def.kind !== kind || existing.def.labels.join() !== labels.join()) {
        throw new InvalidArgumentError(
          PKG,
          'name',
          `"${name}" is already defined as a ${existing.def.kind} with other labels`,
        )
      }
      return existing.instrument
    }
    let bounds: number[] | undefined
    if (kind === 'histogram' && options.buckets !== undefined && options.buckets !== 'log') {
      bounds = [...options.buckets]
      if (
        !Array.isArray(options.buckets) ||
        bounds.length === 0 ||
        bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds![i - 1]!))
      ) {
        throw new InvalidArgumentError(PKG, 'buckets', `must be 'log' or finite, strictly increasing bounds`)
      }
    }
    const def: MetricDefinition = Object.freeze({
      kind,
      name,
      help: options.help ?? name,
      labels: Object.freeze([...labels]),
      ...(kind === 'histogram' ? { layout: bounds ? fixedLayout(bounds) : LOG_LAYOUT, bounds } : {}),
    })
    const instrument = make(def)
    this.#metrics.set(name, {
      def,
      instrument,
      current: new Map(),
      series: new Set(),
      warned: false,
      pending: [],
      metaWritten: false,
      bucket: undefined,
      bucketStart: 0,
      bucketWidth: 0,
      bound: new Set(),
    })
    return instrument
  }

  /** @internal The aggregate map of the current finest bucket, or undefined when the series is over maxSeries. */
  slot(def: MetricDefinition, series: string): Map<string, unknown> | undefined {
    const state = this.#metrics.get(def.name)
    if (!state || this.#final) return undefined
    let bucket = state.bucket
    // The hot path: the same finest bucket as the previous call (reset by every seal). With the real
    // clock, a timer ends the bucket at its boundary, so a record reads no clock at all (a clock read is
    // most of an inc's cost, several hundred ns on some virtual machines); a late timer only moves a few
    // records of the boundary into the bucket before. An injected clock is read on every record.
    if (!bucket || !this.#coarse) {
      const now = this.options.clock()
      if (!bucket || now < state.bucketStart || now >= state.bucketStart + state.bucketWidth) {
        const width = this.options.resolutions[0]!.widthMs
        const start = Math.floor(now / width) * width
        bucket = state.current.get(start)
        if (!bucket) {
          bucket = new Map()
          state.current.set(start, bucket)
        }
        state.bucket = bucket
        state.bucketStart = start
        state.bucketWidth = width
        if (this.#coarse) {
          const current = bucket
          setTimeout(
            () => {
              if (state.bucket === current) state.bucket = undefined
            },
            start + width - now,
          ).unref()
        }
      }
    }
    if (!bucket.has(series) && !state.series.has(series)) {
      if (state.series.size >= this.options.maxSeries) {
        this.#dropSeries(state)
        return undefined
      }
      state.series.add(series)
    }
    return bucket
  }

  /** @internal Attaches a bound handle (drained at each boundary and flush); false: it records directly. */
  attach(def: MetricDefinition, handle: Drainable): boolean {
    const state = this.#metrics.get(def.name)
    // An injected clock is read per record (tests move it between records): bound handles record directly.
    if (!state || this.#final || !this.#coarse) return false
    if (!state.series.has(handle.series)) {
      if (state.series.size >= this.options.maxSeries) return false
      state.series.add(handle.series)
    }
    state.bound.add(handle)
    this.#scheduleBoundary()
    return true
  }

  /** @internal Drains a bound handle into the current bucket and stops draining it. */
  detach(def: MetricDefinition, handle: Drainable): void {
    const state = this.#metrics.get(def.name)
    if (!state?.bound.delete(handle) || this.#final) return
    this.#drain(state, [handle], this.#bucketStart(this.options.clock()))
  }

  #bucketStart(now: number): number {
    const width = this.options.resolutions[0]!.widthMs
    return Math.floor(now / width) * width
  }

  /** Moves what the handles accumulated into the finest bucket starting at `start`. */
  #drain(state: MetricState, handles: Iterable<Drainable>, start: number): void {
    let bucket: Map<string, unknown> | undefined
    for (const handle of handles) {
      if (handle.empty) continue
      bucket ??= state.current.get(start)
      if (!bucket) {
        bucket = new Map()
        state.current.set(start, bucket)
      }
      handle.drainInto(bucket)
    }
  }

  /**
   * At each finest-bucket boundary the handles are drained into the bucket that just ended (a late timer
   * moves the few records made after the boundary into it, as the unbound path's bucket timer does).
   */
  #scheduleBoundary(): void {
    if (this.#boundary || this.#final) return
    const now = this.options.clock()
    const ended = this.#bucketStart(now)
    const next = ended + this.options.resolutions[0]!.widthMs
    this.#boundary = setTimeout(() => {
      this.#boundary = undefined
      let attached = false
      for (const state of this.#metrics.values()) {
        if (state.bound.size === 0) continue
        attached = true
        this.#drain(state, state.bound, ended)
      }
      if (attached) this.#scheduleBoundary()
    }, next - now)
    this.#boundary.unref()
  }

  #dropSeries(state: MetricState): void {
    this.#dropped ??= this.counter(D.DROPPED_SERIES_METRIC, {
      help: 'Label sets dropped because a metric reached maxSeries',
      labels: ['metric'],
    })
    if (state.def.name !== D.DROPPED_SERIES_METRIC) this.#dropped.inc({ metric: state.def.name })
    if (!state.warned) {
      state.warned = true
      process.emitWarning(
        `[${PKG}] metric "${state.def.name}" reached maxSeries (${this.options.maxSeries}); new label sets are dropped and counted in ${D.DROPPED_SERIES_METRIC}`,
        { code: 'CACHE_METRICS_MAX_SERIES' },
      )
    }
  }

  /**
   * Sends the in-process aggregate to Redis: one script call per metric with data (one cluster slot each).
   * Never throws for Redis failures: a failed batch is kept and retried by the next flush, with the same
   * sequence number, so a batch whose reply was lost is not applied twice.
   */
  flush(): Promise<FlushResult> {
    const run = async (): Promise<FlushResult> => {
      await this.#collectGauges()
      const start = this.#bucketStart(this.options.clock())
      for (const state of this.#metrics.values()) {
        if (state.bound.size > 0) this.#drain(state, state.bound, start)
        this.#seal(state)
      }
      const result: FlushResult = { applied: 0, duplicates: 0, pending: 0, lostBatches: 0 }
      let error: unknown
      await Promise.all(
        [...this.#metrics.values()].map(async (state) => {
          while (state.pending.length > 0) {
            const batch = state.pending[0]!
            try {
              const applied = await this.#run(batch)
              if (applied === 1) result.applied++
              else result.duplicates++
              state.pending.shift()
            } catch (err) {
              error = err
              break
            }
          }
          result.pending += state.pending.length
        }),
      )
      result.lostBatches = this.#lostBatches
      if (flushChannel.hasSubscribers) flushChannel.publish({ ...result, batches: result.applied, error })
      return result
    }
    const previous = this.#flushing
    const next = (previous ? previous.then(run, run) : run()).finally(() => {
      if (this.#flushing === next) this.#flushing = undefined
    })
    this.#flushing = next
    return next
  }

  #run(batch: Batch): Promise<number> {
    // The script's key count is fixed at definition; batches vary, so each size gets its own definition.
    const script =
      batch.keys.length === 2
        ? this.#script
        : this.#conn.defineScript<number>(`metrics-flush-${batch.keys.length}`, flushLua, {
            keys: batch.keys.length,
          })
    return script(batch.keys, batch.args)
  }

  async #collectGauges(): Promise<void> {
    for (const state of this.#metrics.values()) {
      const gauge = state.instrument
      if (!(gauge instanceof Gauge) || !gauge.collect) continue
      try {
        const value = await gauge.collect()
        if (typeof value === 'number') gauge.set(value)
        else for (const s of value) gauge.set(s.value, s.labels)
      } catch (err) {
        process.emitWarning(
          `[${PKG}] collect() of gauge "${state.def.name}" failed: ${(err as Error)?.message}`,
        )
      }
    }
  }

  /** Turns the current aggregate of a metric into a batch with the next sequence number. */
  #seal(state: MetricState): void {
    if (state.current.size === 0) return
    const version = `${this.#epoch}${String(++this.#seq).padStart(10, '0')}`
    const batch = sealBatch(state, this.keys, this.options, version)
    if (!batch) return
    state.pending.push(batch)
    if (state.pending.length > this.options.maxPendingBatches) {
      state.pending.shift()
      this.#lostBatches++
    }
  }

  /** Stops the flush timer and flushes what is left (one attempt). Idempotent; the connection stays open. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer)
      clearTimeout(this.#boundary)
      try {
        await this.flush()
      } finally {
        this.#final = true
      }
    })()
    return this.#closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
