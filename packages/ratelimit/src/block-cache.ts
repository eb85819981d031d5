import type { RateLimitResult } from './result.js'

interface Entry {
  until: number
  minCost: number
  maxCost: number
  result: RateLimitResult
  names: Array<{ name: string }>
  last?: RateLimitResult
}

/**
 * The in-process block cache: a key denied (or blocked) until a known time is answered without a round
 * trip while that lasts, for costs between the denied one and the smallest rule capacity. Bounded (LRU).
 */
export class BlockCache {
  readonly #entries = new Map<string, Entry>()
  readonly #maxKeys: number
  readonly #now: () => number

  constructor(maxKeys: number, now: () => number) {
    this.#maxKeys = maxKeys
    this.#now = now
  }

  /** Whether the cache is on (`blockCacheMaxKeys` > 0). */
  get enabled(): boolean {
    return this.#maxKeys > 0
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.#entries.delete(key)
  }

  /** Remembers that `key` is denied until `until` for costs in [minCost, maxCost]. */
  remember(key: string, until: number, minCost: number, maxCost: number, result: RateLimitResult): void {
    const existing = this.#entries.get(key)
    const now = this.#now()
    if (existing && existing.until > now && existing.minCost < minCost) return
    this.#entries.delete(key)
    this.#entries.set(key, {
      until: Math.max(until, existing && existing.minCost === minCost ? existing.until : 0),
      minCost,
      maxCost,
      result,
      names: result.rules.map((r) => ({ name: r.rule })),
    })
    if (this.#entries.size > this.#maxKeys) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }

  /** The cached denial of `key` for `cost`, with the rule names to count it under, if any. */
  hit(
    key: string,
    cost: number,
  ): { result: RateLimitResult; names: ReadonlyArray<{ name: string }> } | undefined {
    if (this.#maxKeys === 0) return undefined
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    const left = entry.until - this.#now()
    if (left <= 0) {
      this.#entries.delete(key)
      return undefined
    }
    if (cost < entry.minCost || cost > entry.maxCost) return undefined
    const r = entry.result
    // Per-rule parts are those of the denial that filled the cache; the top-level times are current.
    // Answers within one millisecond share one frozen object: a flood allocates almost nothing.
    let result = entry.last
    if (result?.retryAfterMs !== left) {
      result = Object.freeze({
        ...r,
        allowed: false,
        remaining: 0,
        retryAfterMs: left,
        resetAfterMs: Math.max(left, r.resetAfterMs - (r.retryAfterMs - left)),
        source: 'cache' as const,
      })
      entry.last = result
    }
    return { result, names: entry.names }
  }
}
