import { estimateSize } from '@cache/core'

/** One value held in process memory. @internal */
export interface L1Entry {
  key: string
  /** The escaped key part, as Redis invalidation messages name it. */
  part: string
  value: unknown
  /** Logical expiry (ms since epoch): the value is fresh until then. */
  exp: number
  /** Served from L1 without asking Redis until then: min(exp, stored + l1.ttl). */
  fresh: number
  /** May be served stale (grace, fail-safe) until then: exp + grace. */
  stale: number
  /** The TTL the value was written with (ms), for eager refresh. */
  ttl: number
  /** The coherence generation it was stored in; older generations are only a fail-safe fallback. */
  gen: number
  size: number
  /** Read since the eviction hand last passed (second-chance LRU). */
  used: boolean
}

/**
 * The L1 tier: a Map bounded by entries and estimated bytes with second-chance ("clock") LRU eviction, so
 * that a hit only sets a flag instead of moving the entry (the hand walks the map in insertion order). Entries are kept until the end of their grace
 * period; freshness is decided by the caller. @internal
 */
export class L1Store {
  readonly map = new Map<string, L1Entry>()
  /** part → key, for keys whose escaped part differs from the key. */
  readonly #aliases = new Map<string, string>()
  bytes = 0
  evictions = 0
  /**
   * The eviction hand: one live iterator over the map, kept between evictions; it always stands at the
   * oldest entry (everything before it was evicted or moved to the back). A fresh `map.values()` per
   * eviction started at the front, where V8 keeps the deleted slots of every evicted entry until the table
   * is rehashed, so each eviction walked them all (~13 us per set at 10,000 entries); the kept hand passes
   * each slot once.
   */
  #hand: Iterator<L1Entry> | undefined

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.map.size
  }

  /** The entry for an escaped key part (as named by invalidation messages). */
  byPart(part: string): L1Entry | undefined {
    const e = this.map.get(this.#aliases.get(part) ?? part)
    return e !== undefined && e.part === part ? e : undefined
  }

  set(entry: Omit<L1Entry, 'size' | 'used'>): L1Entry {
    const old = this.map.get(entry.key)
    if (old !== undefined) this.#remove(old)
    const e = entry as L1Entry
    e.size = estimateSize(entry.value) + 2 * entry.key.length + 96
    e.used = false
    this.map.set(e.key, e)
    if (e.part !== e.key) this.#aliases.set(e.part, e.key)
    this.bytes += e.size
    this.#evict()
    return e
  }

  delete(key: string): boolean {
    const e = this.map.get(key)
    if (e === undefined) return false
    this.#remove(e)
    return true
  }

  deletePart(part: string): boolean {
    const e = this.byPart(part)
    if (e === undefined) return false
    this.#remove(e)
    return true
  }

  clear(): void {
    this.#hand = undefined
    this.map.clear()
    this.#aliases.clear()
    this.bytes = 0
  }

  remove(e: L1Entry): void {
    if (this.map.get(e.key) === e) this.#remove(e)
  }

  #remove(e: L1Entry): void {
    this.map.delete(e.key)
    if (e.part !== e.key) this.#aliases.delete(e.part)
    this.bytes -= e.size
  }

  #evict(): void {
    let spins = this.map.size
    while (this.map.size > this.maxEntries || (this.bytes > this.maxBytes && this.map.size > 0)) {
      let next = this.#hand?.next()
      if (next === undefined || next.done) {
        // Past the newest entry: the hand goes round to the oldest again.
        this.#hand = this.map.values()
        next = this.#hand.next()
        if (next.done) return
      }
      const victim = next.value
      if (victim.used && spins-- > 0) {
        // Second chance: recently read entries go to the back once (the hand reaches them again there).
        victim.used = false
        this.map.delete(victim.key)
        this.map.set(victim.key, victim)
        continue
      }
      this.#remove(victim)
      this.evictions++
    }
  }
}
