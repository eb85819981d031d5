import diagnostics from 'node:diagnostics_channel'
import { type Connection, type Duration, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import { DEFAULT_USAGE_FLUSH_INTERVAL, DEFAULT_USAGE_WARN_AT, NONCE_BUDGET, PKG } from './defaults.js'
import type { EncryptionCodec } from './encryption-codec.js'
import { zNamespace } from './schemas.js'

/** Options of `new KeyUsageCounter()`. */
export interface KeyUsageCounterOptions {
  /** Scope of the counter key (`<namespace>:security:key-usage`). @default 'cache' */
  namespace?: string
  /** Encryptions of one key after which `cache:security:key-usage` warns (and again at each multiple). @default 2^28 */
  warnAt?: number
  /** How often local counts are added to Redis. @default 5s */
  flushInterval?: Duration
}

/** Payload of the `cache:security:key-usage` diagnostics channel. */
export interface KeyUsageEvent {
  /** The key id. */
  keyId: string
  /** Encryptions counted across every process. */
  count: number
  /** The AES-GCM random-nonce budget (2^32). */
  budget: number
  /** Fraction of the budget used. */
  used: number
}

/** diagnostics_channel `cache:security:key-usage`: a key passed a warning threshold; rotate it. */
export const keyUsageChannel = diagnostics.channel('cache:security:key-usage')

const schema = z
  .object({
    namespace: zNamespace('cache'),
    warnAt: z.number().int().min(1).max(NONCE_BUDGET).default(DEFAULT_USAGE_WARN_AT),
    flushInterval: zDuration({ min: 10, max: 3_600_000 }).default(DEFAULT_USAGE_FLUSH_INTERVAL),
  })
  .strict()

/**
 * Counts each key's encryptions in Redis across every process (HINCRBY, batched), and warns on
 * `cache:security:key-usage` long before AES-GCM's random-nonce budget of 2^32 messages per key: the
 * first warning at `warnAt` (2^28 by default, 1/16 of the budget), then at each further multiple.
 *
 * @example
 * const usage = new KeyUsageCounter(conn, codec, { namespace: 'app' })
 */
export class KeyUsageCounter {
  readonly #conn: Connection
  readonly #codec: EncryptionCodec
  readonly #key: string
  readonly #warnAt: number
  readonly #timer: NodeJS.Timeout
  #closed = false
  #flushing: Promise<void> = Promise.resolve()

  constructor(conn: Connection, codec: EncryptionCodec, options: KeyUsageCounterOptions = {}) {
    const o = parseOptions(PKG, schema, options)
    this.#conn = conn
    this.#codec = codec
    this.#key = `{${o.namespace}}:security:key-usage`
    this.#warnAt = o.warnAt
    this.#timer = setInterval(() => void this.flush().catch(() => {}), o.flushInterval)
    this.#timer.unref()
  }

  /** Adds the counts of this process to Redis now and publishes warnings; resolves when done. */
  flush(): Promise<void> {
    const run = this.#flushing.then(async () => {
      const pending = [...this.#codec.takeEncryptionCounts()]
      while (pending.length > 0) {
        const [keyId, n] = pending[0]!
        let total: number
        try {
          total = Number(await this.#conn.send(['HINCRBY', this.#key, keyId, String(n)], { key: this.#key }))
        } catch (err) {
          // Redis down: keep the unflushed counts for the next flush, never lose encryptions.
          this.#codec.returnEncryptionCounts(new Map(pending))
          throw err
        }
        pending.shift()
        if (Math.floor(total / this.#warnAt) > Math.floor((total - n) / this.#warnAt)) {
          const event: KeyUsageEvent = {
            keyId,
            count: total,
            budget: NONCE_BUDGET,
            used: total / NONCE_BUDGET,
          }
          keyUsageChannel.publish(event)
        }
      }
    })
    this.#flushing = run.catch(() => {})
    return run
  }

  /** Encryptions per key id counted in Redis (every process, flushed counts). */
  async counts(): Promise<Map<string, number>> {
    const reply = (await this.#conn.send(['HGETALL', this.#key], { key: this.#key })) as unknown
    const out = new Map<string, number>()
    const entries: [string, unknown][] = Array.isArray(reply)
      ? Array.from({ length: reply.length / 2 }, (_, i) => [String(reply[2 * i]), reply[2 * i + 1]])
      : Object.entries((reply ?? {}) as Record<string, unknown>)
    for (const [k, v] of entries) out.set(k, Number(v))
    return out
  }

  /** Flushes the last counts and stops the timer (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    await this.flush().catch(() => {})
  }

  /** `await using x = …` closes it (same as `close()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
