import {
  type Connection,
  type Duration,
  InvalidOptionError,
  type MessageListener,
  parseOptions,
  type Subscriber,
  zDuration,
} from '@cache/client'
import { z } from 'zod'
import { DEFAULT_PREFIX, DEFAULT_RULES_REFRESH_MS } from './defaults.js'
import { RateLimitKeys } from './keys.js'
import { RateLimiter } from './limiter.js'
import { parseRule, type RateLimiterOptions, type RuleOptions, ruleSchema } from './options.js'

/** Options of `new RuleStore(conn, options)`. */
export interface RuleStoreOptions {
  /** Namespace part under the connection's namespace (the limiters' namespace). @default 'rl' */
  namespace?: string
  /** Re-read every live rule this often, besides the pub/sub notice (which can be missed). @default '30s' */
  refresh?: Duration
}

/** A rule as stored: durations in ms. */
export type StoredRule = Omit<RuleOptions, 'name'>

/** Settings of a live limiter (everything but the rule, which comes from Redis). */
export type LiveLimiterOptions = Omit<RateLimiterOptions, keyof RuleOptions | 'namespace'> & {
  /** The rule to use while none is stored under the name. Without it, a missing rule is an error. */
  fallback?: StoredRule
}

const storeSchema = z.strictObject({
  namespace: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { message: "must be 1–64 letters, digits or '._-'" })
    .optional(),
  refresh: zDuration({ min: 10 }).optional(),
})
const NAME = /^[A-Za-z0-9._-]{1,64}$/

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidOptionError('@cache/ratelimit', 'name', "must be 1–64 letters, digits or '._-'")
  }
  return name
}

function toStored(rule: StoredRule): string {
  const parsed = parseOptions('@cache/ratelimit', ruleSchema.omit({ name: true }), rule)
  parseRule({ ...parsed, name: 'x' })
  return JSON.stringify(parsed)
}

/**
 * Rules stored in Redis and updated live across processes: `set()` writes a rule and announces it on a
 * channel; every live limiter of that name (`limiter()`, in any process) switches to it at once, and
 * re-reads all rules every `refresh` in case a notice was missed. The name stays, so usage carries over.
 */
export class RuleStore {
  readonly #conn: Connection
  readonly #keys: RateLimitKeys
  readonly #namespace: string
  readonly #refreshMs: number
  readonly #live = new Map<string, Set<RateLimiter>>()
  #sub: Promise<Subscriber> | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #onMessage: MessageListener = (name) => {
    void this.#reload(name).catch(() => {})
  }

  /**
   * A store of rules in Redis, updated live across processes.
   * @example
   * const rules = new RuleStore(conn)
   * await rules.set('api', { algorithm: 'gcra', limit: 100, window: 60_000 })
   * const api = await rules.limiter('api')
   */
  constructor(conn: Connection, options: RuleStoreOptions = {}) {
    const o = parseOptions('@cache/ratelimit', storeSchema, options)
    this.#conn = conn
    this.#namespace = o.namespace ?? DEFAULT_PREFIX
    this.#keys = new RateLimitKeys(conn.keys.child(this.#namespace))
    this.#refreshMs = o.refresh ?? DEFAULT_RULES_REFRESH_MS
  }

  /** Stores (or replaces) a rule and tells every process; invalid rules throw InvalidOptionError. */
  async set(name: string, rule: StoredRule): Promise<void> {
    const json = toStored(rule)
    const hash = this.#keys.rules()
    await this.#conn.send(['HSET', hash, checkName(name), json], { key: hash })
    await this.#conn.send(['PUBLISH', hash, name], { key: hash })
    await this.#reload(name)
  }

  /** The stored rule of that name, or undefined. */
  async get(name: string): Promise<StoredRule | undefined> {
    const hash = this.#keys.rules()
    const raw = await this.#conn.send<string | null>(['HGET', hash, checkName(name)], { key: hash })
    return raw ? (JSON.parse(raw) as StoredRule) : undefined
  }

  /** Every stored rule by name. */
  async list(): Promise<Record<string, StoredRule>> {
    const hash = this.#keys.rules()
    const raw = await this.#conn.send<string[] | Record<string, string>>(['HGETALL', hash], { key: hash })
    const flat = Array.isArray(raw) ? raw : Object.entries(raw).flat()
    const out: Record<string, StoredRule> = {}
    for (let i = 0; i + 1 < flat.length; i += 2)
      out[String(flat[i])] = JSON.parse(String(flat[i + 1])) as StoredRule
    return out
  }

  /** Deletes a stored rule (live limiters keep their last rule). */
  async delete(name: string): Promise<boolean> {
    const hash = this.#keys.rules()
    return Number(await this.#conn.send(['HDEL', hash, checkName(name)], { key: hash })) === 1
  }

  /**
   * A limiter whose rule is the stored rule `name`, kept up to date live.
   * @example const api = await rules.limiter('api', { fallback: { algorithm: 'gcra', limit: 100, window: '1m' } })
   */
  async limiter(name: string, options: LiveLimiterOptions = {}): Promise<RateLimiter> {
    checkName(name)
    const { fallback, ...settings } = options
    const rule = (await this.get(name)) ?? fallback
    if (!rule) {
      throw new InvalidOptionError('@cache/ratelimit', 'fallback', `is required: no rule "${name}" is stored`)
    }
    const limiter = new RateLimiter(this.#conn, { ...settings, ...rule, name, namespace: this.#namespace })
    let set = this.#live.get(name)
    if (!set) {
      set = new Set()
      this.#live.set(name, set)
    }
    set.add(limiter)
    await this.#watch()
    return limiter
  }

  async #watch(): Promise<void> {
    if (!this.#sub) {
      this.#sub = this.#conn.subscriber().then(async (sub) => {
        await sub.subscribe(this.#keys.rules(), this.#onMessage)
        sub.on('resubscribed', () => void this.refresh().catch(() => {}))
        return sub
      })
      this.#timer = setInterval(() => void this.refresh().catch(() => {}), this.#refreshMs)
      this.#timer.unref()
    }
    await this.#sub
  }

  /** Re-reads every live rule from Redis now. */
  async refresh(): Promise<void> {
    const all = await this.list()
    for (const [name, limiters] of this.#live) {
      const rule = all[name]
      if (rule) for (const l of limiters) this.#apply(l, rule)
    }
  }

  async #reload(name: string): Promise<void> {
    const limiters = this.#live.get(name)
    if (!limiters?.size) return
    const rule = await this.get(name)
    if (rule) for (const l of limiters) this.#apply(l, rule)
  }

  #apply(limiter: RateLimiter, rule: StoredRule): void {
    try {
      limiter.setRule(rule)
    } catch {
      // a rule written by an older or newer version that this one rejects: keep the last good rule
    }
  }

  /** Stops watching (live limiters keep their last rule). Idempotent. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    const sub = this.#sub
    this.#sub = undefined
    this.#live.clear()
    if (sub) await (await sub).unsubscribe(this.#keys.rules(), this.#onMessage).catch(() => {})
  }

  /** `await using rules = new RuleStore(conn)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
