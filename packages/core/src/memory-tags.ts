import type { MemoryEntry } from './memory-entry.js'

/** The tag and dependency indexes of a `MemoryCache`: keys by tag, and dependant keys by the key they depend on. */
export class TagIndex {
  readonly #tags = new Map<string, Set<string>>()
  readonly #dependants = new Map<string, Set<string>>()

  /** Indexes `e` under its tags and its dependencies. */
  add(e: MemoryEntry): void {
    if (e.tags) for (const t of e.tags) index(this.#tags, t, e.key)
    if (e.deps) for (const d of e.deps) index(this.#dependants, d, e.key)
  }

  /** Takes `e` out of the indexes. */
  remove(e: MemoryEntry): void {
    if (e.tags) for (const t of e.tags) unindex(this.#tags, t, e.key)
    if (e.deps) for (const d of e.deps) unindex(this.#dependants, d, e.key)
  }

  /** The keys carrying any of `tags` (a key with two of them comes twice). */
  keysTagged(tags: readonly string[]): string[] {
    const keys: string[] = []
    for (const t of tags) {
      const set = this.#tags.get(t)
      if (set) keys.push(...set)
    }
    return keys
  }

  /**
   * Walks breadth first from `start` through the keys depending on them, calling `drop` once for each key
   * reached; `drop` runs before the key's dependants are read, so it may remove the key's entry.
   */
  cascade(start: Iterable<string>, drop: (key: string) => void): void {
    const queue = [...start]
    const seen = new Set<string>(queue)
    while (queue.length > 0) {
      const key = queue.shift() as string
      drop(key)
      const deps = this.#dependants.get(key)
      if (deps) {
        this.#dependants.delete(key)
        for (const d of deps) {
          if (!seen.has(d)) {
            seen.add(d)
            queue.push(d)
          }
        }
      }
    }
  }

  /** Forgets every key. */
  clear(): void {
    this.#tags.clear()
    this.#dependants.clear()
  }
}

function index(map: Map<string, Set<string>>, name: string, key: string): void {
  let set = map.get(name)
  if (set === undefined) {
    set = new Set()
    map.set(name, set)
  }
  set.add(key)
}

function unindex(map: Map<string, Set<string>>, name: string, key: string): void {
  const set = map.get(name)
  if (set) {
    set.delete(key)
    if (set.size === 0) map.delete(name)
  }
}
