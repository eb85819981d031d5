import type { Connection, Duration } from '@cache/client'
import { InvalidArgumentError, parseDuration } from '@cache/client'

const PKG = '@cache/ratelimit'

import type { RuleSlot } from './binding.js'
import { MAX_WINDOW_MS } from './defaults.js'
import { Engine } from './engine.js'
import { RateLimitedError, RateLimitUnavailableError } from './errors.js'
import { RateLimitKeys } from './keys.js'
import {
  parseRule,
  type RateLimiterOptions,
  type ResolvedRule,
  type RuleOptions,
  resolveLimiterOptions,
} from './options.js'
import type { RateLimitResult, RateLimitStats } from './result.js'

/** Options of one `consume()` / `peek()` call. */
export interface ConsumeOptions {
  /** Units this request costs (e.g. LLM tokens). @default 1 */
  cost?: number
}

/** What every limiter offers: the single-rule RateLimiter and the multi-rule CombinedLimiter. */
export interface Limiter {
  /** Counts a request of `cost` units for `key` if every rule allows it; a denied request consumes nothing. */
  consume(key: string, options?: ConsumeOptions): Promise<RateLimitResult>
  /** Says whether a request would be allowed, without counting it. */
  peek(key: string, options?: ConsumeOptions): Promise<RateLimitResult>
  /**
   * Gives back `cost` units a request of `key` consumed (it should not have counted: a failed upstream
   * call, express-rate-limit's `skipFailedRequests`), under every rule; resolves to how many rules gave
   * units back (0: nothing to give back, e.g. the window it was counted in is over). Blocks stay.
   */
  refund(key: string, options?: ConsumeOptions): Promise<number>
  /** Forgets `key`'s usage and blocks. */
  reset(key: string): Promise<void>
  /** Denies `key` for `duration`; returns the blocked-until time (ms, in the limiter's clock). */
  block(key: string, duration: Duration): Promise<number>
  /** Counters since the limiter was created. */
  stats(): RateLimitStats
  /** Subscribes to `outage` (CacheError) and `recovered` events. */
  on(event: 'outage' | 'recovered', listener: (...args: any[]) => void): unknown
  /** Unsubscribes. */
  off(event: 'outage' | 'recovered', listener: (...args: any[]) => void): unknown
}

function blockMs(duration: Duration): number {
  return parseDuration(duration, { field: 'duration', min: 1, max: MAX_WINDOW_MS, pkg: PKG })
}

/** Common face of the limiters over an Engine. */
abstract class EngineLimiter implements Limiter {
  /** @internal */
  readonly engine: Engine

  constructor(engine: Engine) {
    this.engine = engine
  }

  consume(key: string, options?: ConsumeOptions): Promise<RateLimitResult> {
    return this.engine.run('c', key, options?.cost ?? 1)
  }

  peek(key: string, options?: ConsumeOptions): Promise<RateLimitResult> {
    return this.engine.run('p', key, options?.cost ?? 1)
  }

  /**
   * Like `consume()`, but throws RateLimitedError (E_RATE_LIMITED) when denied, and
   * RateLimitUnavailableError when the outage policy 'fail-closed' denied it.
   */
  async consumeOrThrow(key: string, options: ConsumeOptions = {}): Promise<RateLimitResult> {
    const r = await this.consume(key, options)
    if (r.allowed) return r
    if (r.source === 'fail-closed') throw new RateLimitUnavailableError(undefined)
    throw new RateLimitedError(key, r.retryAfterMs)
  }

  refund(key: string, options?: ConsumeOptions): Promise<number> {
    return this.engine.refund(key, options?.cost ?? 1)
  }

  reset(key: string): Promise<void> {
    return this.engine.reset(key)
  }

  async block(key: string, duration: Duration): Promise<number> {
    return this.engine.block(key, blockMs(duration))
  }

  /** Allowed/denied counts per rule for `key`, shared across processes (needs the `analytics` option). */
  keyStats(key: string): Promise<Record<string, { allowed: number; denied: number }>> {
    return this.engine.keyStats(key)
  }

  /** Allowed/denied counts per rule summed over every process (needs the `analytics` option). */
  ruleStats(): Promise<Record<string, { allowed: number; denied: number }>> {
    return this.engine.ruleStats()
  }

  /** Stops the analytics flush timer after a last flush (the connection stays open: it is yours). Idempotent. */
  close(): Promise<void> {
    return this.engine.close()
  }

  /** `await using limiter = new RateLimiter(conn, …)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  stats(): RateLimitStats {
    return this.engine.stats()
  }

  /** True while Redis is unreachable and the outage policy decides. */
  get degraded(): boolean {
    return this.engine.degraded
  }

  on(event: 'outage' | 'recovered', listener: (...args: any[]) => void): this {
    this.engine.on(event, listener)
    return this
  }

  off(event: 'outage' | 'recovered', listener: (...args: any[]) => void): this {
    this.engine.off(event, listener)
    return this
  }
}

/**
 * A rate limiter of one rule (one algorithm) over Redis.
 * @example
 * const limiter = new RateLimiter(conn, { algorithm: 'gcra', limit: 100, window: '1m' })
 * const r = await limiter.consume(`user:${id}`)
 * if (!r.allowed) res.setHeader('Retry-After', Math.ceil(r.retryAfterMs / 1000))
 */
export class RateLimiter extends EngineLimiter {
  /** @internal */
  readonly slot: RuleSlot

  constructor(conn: Connection, options: RateLimiterOptions) {
    super(engineFor(conn, options))
    this.slot = this.engine.slots[0]!
  }

  /** The rule's name (part of its Redis keys). */
  get name(): string {
    return this.slot.rule.name
  }

  /** The rule in force (resolved to numbers). */
  get rule(): ResolvedRule {
    return this.slot.rule
  }

  /**
   * Replaces the rule in this process (the name stays, so usage carries over); `RuleStore` does it in every
   * process. Invalid rules throw InvalidOptionError and leave the rule unchanged.
   */
  setRule(rule: Omit<RuleOptions, 'name'>): void {
    const next = parseRule({ ...rule, name: this.slot.rule.name })
    this.slot.rule = next
  }
}

function engineFor(conn: Connection, options: RateLimiterOptions): Engine {
  const o = resolveLimiterOptions(options)
  const keys = new RateLimitKeys(conn.keys.child(o.namespace))
  return new Engine(conn, keys, [{ rule: o.rule, adaptive: o.adaptive }], {
    clock: o.clock,
    now: o.now,
    outage: o.outage,
    blockCacheMaxKeys: o.blockCacheMaxKeys,
    localMaxKeys: o.localMaxKeys,
    analyticsTtlMs: o.analyticsTtlMs,
  })
}

/**
 * Several limits enforced together: a request passes all of them, or consumes from none. Every request runs
 * one script over all their rules (one Cluster slot per key). The limiters must share one connection and
 * namespace; clock, outage policy, block cache and analytics are the first limiter's.
 * @example const api = new CombinedLimiter([perSecond, perMinute, perDay])
 */
export class CombinedLimiter extends EngineLimiter {
  /** The combined limiters. */
  readonly limiters: ReadonlyArray<RateLimiter>

  constructor(limiters: ReadonlyArray<RateLimiter>) {
    super(combinedEngine(limiters))
    this.limiters = [...limiters]
  }
}

function combinedEngine(limiters: ReadonlyArray<RateLimiter>): Engine {
  if (!Array.isArray(limiters) || limiters.length === 0 || !limiters.every((l) => l instanceof RateLimiter)) {
    throw new InvalidArgumentError(PKG, 'limiters', 'must be a non-empty array of RateLimiters')
  }
  const first = limiters[0]!.engine
  for (const [i, l] of limiters.entries()) {
    if (l.engine.conn !== first.conn || l.engine.keys.namespace !== first.keys.namespace) {
      throw new InvalidArgumentError(
        PKG,
        `limiters.${i}`,
        "must share the first limiter's connection and namespace",
      )
    }
  }
  const names = limiters.map((l) => l.name)
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup) throw new InvalidArgumentError(PKG, 'limiters', `must have distinct rule names; "${dup}" repeats`)
  return new Engine(
    first.conn,
    first.keys,
    limiters.map((l) => l.slot),
    first.settings,
  )
}
