import { RATE_WINDOW_S } from './defaults.js'

/** Events per second over the last `windowS` seconds, in one-second buckets (O(1) record, no timers). */
export class RateMeter {
  readonly #buckets: Float64Array
  readonly #stamps: Float64Array
  readonly #created: number
  #total = 0

  constructor(
    readonly windowS: number = RATE_WINDOW_S,
    readonly now: () => number = Date.now,
  ) {
    this.#buckets = new Float64Array(windowS)
    this.#stamps = new Float64Array(windowS).fill(-1)
    this.#created = now()
  }

  /** Counts `n` events now. */
  record(n = 1): void {
    const s = Math.floor(this.now() / 1000)
    const i = s % this.windowS
    if (this.#stamps[i] !== s) {
      this.#stamps[i] = s
      this.#buckets[i] = 0
    }
    this.#buckets[i] = (this.#buckets[i] as number) + n
    this.#total += n
  }

  /** Events recorded since creation. */
  get total(): number {
    return this.#total
  }

  /** Events per second over the window (or since creation, when that is shorter). */
  rate(): number {
    const now = this.now()
    const s = Math.floor(now / 1000)
    let sum = 0
    for (let i = 0; i < this.windowS; i++) {
      const stamp = this.#stamps[i] as number
      if (stamp >= 0 && s - stamp < this.windowS) sum += this.#buckets[i] as number
    }
    const span = Math.min(this.windowS, Math.max(1, (now - this.#created) / 1000))
    return sum / span
  }
}
