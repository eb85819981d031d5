import { LOG_MIN_VALUE, LOG_RELATIVE_ERROR } from './defaults.js'

/**
 * How a histogram maps a value to a bucket index and back. Both layouts are mergeable: bucket counts of any
 * number of processes add up, and quantiles are computed from the merged counts (never averaged).
 */
export interface BucketLayout {
  readonly kind: 'log' | 'fixed'
  /** The bucket of a value. */
  index(value: number): number
  /** A representative value of a bucket (the estimate a quantile returns). */
  value(index: number): number
  /** Upper bound of a bucket (the Prometheus `le`). */
  upper(index: number): number
}

const GAMMA = (1 + LOG_RELATIVE_ERROR) / (1 - LOG_RELATIVE_ERROR)
const LOG_GAMMA = Math.log(GAMMA)
/** Index of the zero bucket (values < LOG_MIN_VALUE, including 0 and negatives). */
export const ZERO_BUCKET = -2_147_483_648

/**
 * Log-spaced buckets (the DDSketch mapping): bucket i holds (γ^(i-1), γ^i] with γ = (1+α)/(1-α), α = 1%,
 * and reports 2γ^i/(γ+1); every value in the bucket is within α of it, so every quantile is within 1%
 * (relative) of a sample of the merged data at that rank.
 */
export const LOG_LAYOUT: BucketLayout = {
  kind: 'log',
  index(value) {
    if (!(value >= LOG_MIN_VALUE)) return ZERO_BUCKET
    return Math.ceil(Math.log(value) / LOG_GAMMA)
  },
  value(index) {
    if (index === ZERO_BUCKET) return 0
    return (2 * GAMMA ** index) / (GAMMA + 1)
  },
  upper(index) {
    if (index === ZERO_BUCKET) return LOG_MIN_VALUE
    return GAMMA ** index
  },
}

/** Fixed buckets with the given upper bounds (Prometheus style); one more bucket holds values above the last. */
export function fixedLayout(bounds: readonly number[]): BucketLayout {
  const sorted = [...bounds]
  return {
    kind: 'fixed',
    index(value) {
      let lo = 0
      let hi = sorted.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (value <= sorted[mid]!) hi = mid
        else lo = mid + 1
      }
      return lo
    },
    // The upper bound: a quantile is reported as the bound of the bucket it falls in (at most one bucket off).
    value(index) {
      return index < sorted.length ? sorted[index]! : sorted[sorted.length - 1]!
    },
    upper(index) {
      return index < sorted.length ? sorted[index]! : Number.POSITIVE_INFINITY
    },
  }
}

/**
 * The q-quantile of merged bucket counts: the bucket holding the sample of rank ⌊q·(n−1)⌋ (0-based) in sorted
 * order. NaN when empty.
 */
export function quantile(layout: BucketLayout, counts: ReadonlyMap<number, number>, q: number): number {
  let total = 0
  for (const c of counts.values()) total += c
  if (total <= 0) return Number.NaN
  const rank = Math.floor(q * (total - 1))
  const indices = [...counts.keys()].sort((a, b) => a - b)
  let seen = 0
  for (const i of indices) {
    seen += counts.get(i)!
    if (seen > rank) return layout.value(i)
  }
  return layout.value(indices[indices.length - 1]!)
}
