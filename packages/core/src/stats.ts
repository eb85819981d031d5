import { LatencyRing } from '@cache/client'
import type { CacheStats } from './cache.js'
import { type GetEvent, getChannel } from './channels.js'
import { LATENCY_SAMPLES } from './defaults.js'

/** Counters of a cache implementation, over the shared LatencyRing of @cache/client. @internal */
export class StatsRecorder {
  hits = 0
  misses = 0
  sets = 0
  deletes = 0
  errors = 0
  /** Whether reads are published on `cache:core:get` (RedisCache's `publishReads`). */
  publishReads = true
  readonly #latency = new LatencyRing(LATENCY_SAMPLES)

  /** Counts one key read as a hit or a miss and publishes it on `cache:core:get` when someone listens (and `publishReads`). */
  read(hit: boolean, namespace: string, tier: GetEvent['tier']): void {
    if (hit) this.hits++
    else this.misses++
    if (this.publishReads && getChannel.hasSubscribers)
      getChannel.publish({ namespace, tier, outcome: hit ? 'hit' : 'miss' })
  }

  /** Records one operation's latency in ms. */
  latency(ms: number): void {
    this.#latency.record(ms)
  }

  /** A snapshot. */
  snapshot(namespace: string): CacheStats {
    const reads = this.hits + this.misses
    return {
      namespace,
      hits: this.hits,
      misses: this.misses,
      sets: this.sets,
      deletes: this.deletes,
      errors: this.errors,
      hitRatio: reads === 0 ? 0 : this.hits / reads,
      latency: this.#latency.summary(),
    }
  }
}
