/** Default size of a LatencyRing: the latest 1,024 samples. */
export const DEFAULT_LATENCY_SAMPLES = 1024

/** Latency percentiles over the samples a ring holds. */
export interface LatencySummary {
  /** Median (ms). */
  p50: number
  /** 99th percentile (ms). */
  p99: number
  /** Samples recorded since creation (the percentiles cover the latest `size` of them). */
  samples: number
}

/**
 * A fixed-size ring of the latest latencies (ms) and their percentiles: the one stats mechanism of the
 * family (the caches' `stats().latency`). Recording is O(1) and allocation-free; `summary()` sorts a copy.
 */
export class LatencyRing {
  readonly #ring: Float64Array
  #count = 0

  constructor(readonly size: number = DEFAULT_LATENCY_SAMPLES) {
    this.#ring = new Float64Array(size)
  }

  /** Records one operation's latency (ms). */
  record(ms: number): void {
    this.#ring[this.#count++ % this.size] = ms
  }

  /** Records the time since `t0` (a `performance.now()` reading). */
  since(t0: number): void {
    this.record(performance.now() - t0)
  }

  /** p50/p99 of the held samples (0 when there are none) and the total number recorded. */
  summary(): LatencySummary {
    const n = Math.min(this.#count, this.size)
    const sorted = this.#ring.slice(0, n).sort()
    const pick = (p: number) => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(p * n))] as number))
    return { p50: pick(0.5), p99: pick(0.99), samples: this.#count }
  }
}
