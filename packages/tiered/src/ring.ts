/** MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units: fast and well spread, for the hash ring. */
export function murmur3(text: string, seed = 0): number {
  let h = seed >>> 0
  const n = text.length
  let i = 0
  for (; i + 1 < n; i += 2) {
    let k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 16)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (i < n) {
    let k = text.charCodeAt(i) & 0xffff
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
  }
  h ^= n * 2
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * A consistent-hash ring: each node owns `virtualNodes` points; a key belongs to the first point at or after
 * its hash. Adding or removing one of N nodes moves about 1/N of the keys, and only to or from that node.
 */
export class HashRing {
  #points = new Uint32Array(0)
  #owners: string[] = []
  readonly #nodes = new Set<string>()

  constructor(
    nodes: Iterable<string>,
    readonly virtualNodes: number,
  ) {
    for (const n of nodes) this.#nodes.add(n)
    this.#build()
  }

  /** The node names, in insertion order. */
  get nodes(): string[] {
    return [...this.#nodes]
  }

  add(node: string): void {
    this.#nodes.add(node)
    this.#build()
  }

  remove(node: string): boolean {
    const had = this.#nodes.delete(node)
    if (had) this.#build()
    return had
  }

  #build(): void {
    const points: Array<[number, string]> = []
    for (const node of this.#nodes) {
      for (let i = 0; i < this.virtualNodes; i++) points.push([murmur3(`${node}#${i}`), node])
    }
    // Ties (rare) are broken by name, so every process builds the same ring.
    points.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    this.#points = Uint32Array.from(points.map((p) => p[0]))
    this.#owners = points.map((p) => p[1])
  }

  /** The node owning `key`. @throws when the ring is empty. */
  lookup(key: string): string {
    const points = this.#points
    if (points.length === 0) throw new Error('empty ring')
    const h = murmur3(key)
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((points[mid] as number) < h) lo = mid + 1
      else hi = mid
    }
    return this.#owners[lo === points.length ? 0 : lo] as string
  }
}
