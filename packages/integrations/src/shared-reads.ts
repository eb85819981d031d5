/**
 * Lookups of one key that start in the same event-loop turn share one cache read.
 *
 * Under load a turn of the loop hands the server several requests at once (every socket that became
 * readable), and a popular URL's requests all look its entry up: one GET (a round trip, a reply to parse,
 * the entry to decode, its hit response to build) answers all of them. A read is shared only until the
 * `setImmediate` it scheduled runs, and that is scheduled before the read is issued: node-redis (and so
 * RedisCache and TieredCache) writes queued commands in a `setImmediate` of its own, so every request that
 * shares a read started before Redis ran it, and the answer is one it could have had by reading alone (an
 * invalidation that finished before a request started is seen by it). A read that settled is no longer
 * shared either: an in-memory cache (MemoryCache, a TieredCache L1 hit) answers in the same microtask,
 * before any later request could join it.
 */
export class SharedReads<T> {
  readonly #open = new Map<string, Promise<T>>()
  #closing = false
  readonly #close = (): void => {
    this.#closing = false
    this.#open.clear()
  }

  /** The read of `key` started in this turn, or a new one by `read`. */
  get(key: string, read: (key: string) => Promise<T>): Promise<T> {
    const open = this.#open.get(key)
    if (open !== undefined) return open
    if (!this.#closing) {
      this.#closing = true
      setImmediate(this.#close)
    }
    const p = read(key)
    this.#open.set(key, p)
    const settled = () => {
      if (this.#open.get(key) === p) this.#open.delete(key)
    }
    p.then(settled, settled)
    return p
  }
}
