import { hgetallRecord } from '@cache/client'
import type { CacheStats } from './cache.js'
import type { RedisCacheContext } from './redis-cache-context.js'

/** The counters every process adds to one hash in Redis. */
export type SharedCounters = Pick<
  CacheStats,
  'namespace' | 'hits' | 'misses' | 'sets' | 'deletes' | 'errors' | 'hitRatio'
>

type Counts = { hits: number; misses: number; sets: number; deletes: number; errors: number }

/** Adds one cache's local counters to the shared hash, as deltas since the last flush. */
export class SharedStats<T> {
  readonly #ctx: RedisCacheContext<T>
  #flushed: Counts = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 }

  constructor(ctx: RedisCacheContext<T>) {
    this.#ctx = ctx
  }

  /** Adds the counters accumulated since the last flush to the shared hash in Redis. */
  async flush(): Promise<void> {
    const s = this.#ctx.stats
    const now: Counts = { hits: s.hits, misses: s.misses, sets: s.sets, deletes: s.deletes, errors: s.errors }
    const fields = (Object.keys(now) as Array<keyof Counts>)
      .map((f) => [f, now[f] - this.#flushed[f]] as const)
      .filter(([, n]) => n !== 0)
    if (fields.length === 0) return
    this.#flushed = now
    await this.#ctx.scripts.statsAdd([this.#ctx.keys.stats], fields.flat())
  }

  /** Counters of every process sharing the namespace (flushes this process's first). */
  async read(): Promise<SharedCounters> {
    await this.flush()
    const key = this.#ctx.keys.stats
    const map = hgetallRecord<string>(await this.#ctx.send(['HGETALL', key], key))
    const n = (f: string) => Number(map[f] ?? 0)
    const reads = n('hits') + n('misses')
    return {
      namespace: this.#ctx.namespace,
      hits: n('hits'),
      misses: n('misses'),
      sets: n('sets'),
      deletes: n('deletes'),
      errors: n('errors'),
      hitRatio: reads === 0 ? 0 : n('hits') / reads,
    }
  }
}
