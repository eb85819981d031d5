/** Deterministic samples (mulberry32), so the parent test knows every value its child processes observed. */
export function samples(seed: number, n: number): number[] {
  let a = seed >>> 0
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296
    // Latencies from ~0.1 ms to ~10 s, log-uniform with a heavier tail.
    out.push(10 ** (-4 + 5 * u ** 2))
  }
  return out
}

/** The exact q-quantile at rank ⌊q·(n−1)⌋, the definition the histogram's guarantee is stated for. */
export function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(q * (sorted.length - 1))]!
}
