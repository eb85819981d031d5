import type { MemoryEntry } from './memory-entry.js'

/**
 * The eviction order of a `MemoryCache`. LRU is the entry map's own insertion order (a read moves the
 * entry to the end); LFU keeps entries in buckets by use count, each bucket in insertion (age) order.
 */
export class EvictionOrder {
  readonly #entries: Map<string, MemoryEntry>
  readonly #lfu: boolean
  /** LFU: entries by use count, each set in insertion (age) order. */
  readonly #buckets = new Map<number, Set<MemoryEntry>>()
  #minFreq = 1

  constructor(entries: Map<string, MemoryEntry>, eviction: 'lru' | 'lfu') {
    this.#entries = entries
    this.#lfu = eviction === 'lfu'
  }

  /** Records a use of `e`. */
  touched(e: MemoryEntry): void {
    if (this.#lfu) {
      const bucket = this.#buckets.get(e.freq)!
      bucket.delete(e)
      if (bucket.size === 0) {
        this.#buckets.delete(e.freq)
        if (this.#minFreq === e.freq) this.#minFreq = e.freq + 1
      }
      e.freq++
      this.#bucket(e.freq).add(e)
    } else {
      this.#entries.delete(e.key)
      this.#entries.set(e.key, e)
    }
  }

  /** Records `e`, just put in the entry map with one use. */
  added(e: MemoryEntry): void {
    if (this.#lfu) {
      this.#bucket(1).add(e)
      this.#minFreq = 1
    }
  }

  /** Forgets `e`, just taken out of the entry map. */
  removed(e: MemoryEntry): void {
    if (this.#lfu) {
      const bucket = this.#buckets.get(e.freq)
      if (bucket) {
        bucket.delete(e)
        if (bucket.size === 0) this.#buckets.delete(e.freq)
      }
    }
  }

  /** The entry to evict next: least recently (LRU) or least frequently, then oldest (LFU), used. */
  victim(): MemoryEntry | undefined {
    if (!this.#lfu) return this.#entries.values().next().value
    let bucket = this.#buckets.get(this.#minFreq)
    if (bucket === undefined || bucket.size === 0) {
      this.#minFreq = Math.min(...this.#buckets.keys())
      bucket = this.#buckets.get(this.#minFreq)
    }
    return bucket?.values().next().value
  }

  /** Forgets every entry (the entry map is cleared by its owner). */
  clear(): void {
    this.#buckets.clear()
    this.#minFreq = 1
  }

  #bucket(freq: number): Set<MemoryEntry> {
    let b = this.#buckets.get(freq)
    if (b === undefined) {
      b = new Set()
      this.#buckets.set(freq, b)
    }
    return b
  }
}
