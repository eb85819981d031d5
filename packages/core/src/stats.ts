import type { CacheStats } from './cache.js'
import { LATENCY_SAMPLES } from './defaults.js'

/** Counters and a ring of recent latencies, shared by the cache implementations. @internal */
export class StatsRecorder {
  hits = 0
  misses = 0
  sets = 0
  deletes = 0
  errors = 0
  readonly #ring = new Float64Array(LATENCY_SAMPLES)
  #count = 0

  /** Records one operation's latency in ms. */
  latency(ms: number): void {
    this.#ring[this.#count++ % LATENCY_SAMPLES] = ms
  }

  /** A snapshot. */
  snapshot(namespace: string): CacheStats {
    const n = Math.min(this.#count, LATENCY_SAMPLES)
    const sorted = this.#ring.slice(0, n).sort()
    const pick = (p: number) => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(p * n))] as number))
    const reads = this.hits + this.misses
    return {
      namespace,
      hits: this.hits,
      misses: this.misses,
      sets: this.sets,
      deletes: this.deletes,
      errors: this.errors,
      hitRatio: reads === 0 ? 0 : this.hits / reads,
      latency: { p50: pick(0.5), p99: pick(0.99), samples: this.#count },
    }
  }
}
