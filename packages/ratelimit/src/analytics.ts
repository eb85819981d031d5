import { type Connection, hgetallRecord, isUnavailable } from '@cache/client'
import type { RateLimitKeys } from './keys.js'

/** How often per-rule analytics are added to the shared hash. */
const ANALYTICS_FLUSH_MS = 5_000

/**
 * Shared per-rule analytics (the `analytics` option): this process counts allowed/denied per rule and adds
 * them to a hash every few seconds; per-key counts are written by consume.lua itself.
 */
export class Analytics {
  readonly #conn: Connection
  readonly #keys: RateLimitKeys
  readonly #unflushed = new Map<string, { allowed: number; denied: number }>()
  #flushTimer: NodeJS.Timeout | undefined

  constructor(conn: Connection, keys: RateLimitKeys) {
    this.#conn = conn
    this.#keys = keys
  }

  /** Counts one decision under each rule (flushed on a timer started by the first count). */
  count(rules: ReadonlyArray<{ name: string }>, allowed: boolean): void {
    for (const r of rules) {
      let c = this.#unflushed.get(r.name)
      if (!c) {
        c = { allowed: 0, denied: 0 }
        this.#unflushed.set(r.name, c)
      }
      if (allowed) c.allowed++
      else c.denied++
    }
    if (!this.#flushTimer) {
      this.#flushTimer = setInterval(() => void this.flushStats().catch(() => {}), ANALYTICS_FLUSH_MS)
      this.#flushTimer.unref()
    }
  }

  /**
   * Adds this process's allowed/denied counts per rule since the last flush to the shared per-rule hash
   * (done every few seconds when `analytics` is on). Counts are kept for the next flush when Redis is down.
   */
  async flushStats(): Promise<void> {
    if (this.#unflushed.size === 0) return
    const batch = [...this.#unflushed]
    this.#unflushed.clear()
    const key = this.#keys.ruleStats()
    try {
      await Promise.all(
        batch.flatMap(([rule, c]) => [
          c.allowed ? this.#conn.send(['HINCRBY', key, `${rule}:a`, String(c.allowed)], { key }) : undefined,
          c.denied ? this.#conn.send(['HINCRBY', key, `${rule}:d`, String(c.denied)], { key }) : undefined,
        ]),
      )
    } catch (err) {
      // at-least-once would double count after a partial failure; losing a flush is the lesser evil for
      // counters, but an outage (nothing written) keeps them for the next flush
      if (isUnavailable(err)) {
        for (const [rule, c] of batch) {
          const cur = this.#unflushed.get(rule) ?? { allowed: 0, denied: 0 }
          this.#unflushed.set(rule, { allowed: cur.allowed + c.allowed, denied: cur.denied + c.denied })
        }
      }
      throw err
    }
  }

  /** Allowed/denied counts per rule, summed over every process (flushes this one's first; needs `analytics`). */
  async ruleStats(): Promise<Record<string, { allowed: number; denied: number }>> {
    await this.flushStats()
    return this.#readStats(this.#keys.ruleStats())
  }

  /** Stops the analytics flush timer after a last flush. Idempotent. */
  async close(): Promise<void> {
    if (this.#flushTimer) clearInterval(this.#flushTimer)
    this.#flushTimer = undefined
    await this.flushStats().catch(() => {})
  }

  /** Allowed/denied counts per rule for `key`, from Redis (needs `analytics`). */
  async keyStats(key: string): Promise<Record<string, { allowed: number; denied: number }>> {
    return this.#readStats(this.#keys.stats(key))
  }

  async #readStats(k: string): Promise<Record<string, { allowed: number; denied: number }>> {
    const fields = hgetallRecord(await this.#conn.send(['HGETALL', k], { key: k }))
    const out: Record<string, { allowed: number; denied: number }> = {}
    for (const [field, value] of Object.entries(fields)) {
      const rule = field.slice(0, -2)
      let c = out[rule]
      if (!c) {
        c = { allowed: 0, denied: 0 }
        out[rule] = c
      }
      if (field.endsWith(':a')) c.allowed = Number(value)
      else c.denied = Number(value)
    }
    return out
  }
}
