import { EventEmitter } from 'node:events'
import { type CacheError, type Connection, isUnavailable } from '@cache/client'
import { Analytics } from './analytics.js'
import { algorithmModules, Batcher } from './batcher.js'
import { type Bound, RuleBinder, type RuleSlot } from './binding.js'
import { BlockCache } from './block-cache.js'
import { decisionChannel, outageChannel } from './diagnostics.js'
import { CostExceedsLimitError } from './errors.js'
import type { RateLimitKeys } from './keys.js'
import { LocalStore, type RawReply } from './local.js'
import {
  type DecisionSource,
  decide,
  policyReply,
  type RateLimitResult,
  type RateLimitStats,
  type RuleResult,
} from './result.js'
import * as scripts from './scripts/index.js'
import type { EngineSettings } from './settings.js'
import { checkCost, checkKey } from './validate.js'

/**
 * Runs one or more rules for a key atomically: one consume.lua call over every rule's keys (one Cluster
 * slot), with the block cache in front and the outage policy behind. Shared by RateLimiter and
 * CombinedLimiter; the parts live in binding.ts (rules → keys), batcher.ts (the round trips),
 * block-cache.ts, result.ts (reply → decision), analytics.ts and local.ts (the 'local' policy).
 * Events: `outage` (CacheError), `recovered`. @internal
 */
export class Engine extends EventEmitter {
  readonly conn: Connection
  readonly keys: RateLimitKeys
  readonly slots: ReadonlyArray<RuleSlot>
  readonly settings: EngineSettings
  readonly #local: LocalStore
  readonly #binder: RuleBinder
  readonly #batcher: Batcher
  readonly #blocked: BlockCache
  readonly #analytics: Analytics
  #down = false
  readonly #stats: RateLimitStats = {
    allowed: 0,
    denied: 0,
    cacheHits: 0,
    outageDecisions: 0,
    outages: 0,
    byRule: {},
  }

  constructor(conn: Connection, keys: RateLimitKeys, slots: RuleSlot[], settings: EngineSettings) {
    super()
    this.conn = conn
    this.keys = keys
    this.slots = slots
    this.settings = settings
    this.#local = new LocalStore(settings.localMaxKeys)
    this.#binder = new RuleBinder(keys, slots)
    this.#batcher = new Batcher(conn, keys, settings)
    this.#blocked = new BlockCache(settings.blockCacheMaxKeys, settings.now)
    this.#analytics = new Analytics(conn, keys)
  }

  /** True while Redis is known to be unreachable. */
  get degraded(): boolean {
    return this.#down
  }

  /** A snapshot of the counters. */
  stats(): RateLimitStats {
    const byRule: RateLimitStats['byRule'] = {}
    for (const [k, v] of Object.entries(this.#stats.byRule)) byRule[k] = { ...v }
    return { ...this.#stats, byRule }
  }

  /** Consumes (mode 'c') or checks (mode 'p') `cost` units for `key` under every rule. */
  async run(mode: 'c' | 'p', keyArg: unknown, costArg: unknown = 1): Promise<RateLimitResult> {
    const key = checkKey(keyArg)
    const cost = checkCost(costArg)
    const cached = this.#blocked.hit(key, cost)
    if (cached) {
      if (mode === 'c') {
        this.#stats.cacheHits++
        this.#tally(cached.result, cached.names, cost)
      }
      return cached.result
    }
    const rules = this.#binder.bind(key)
    for (const r of rules) {
      if (cost > r.capacity) throw new CostExceedsLimitError(cost, r.capacity, r.name)
    }
    let reply: RawReply
    let source: DecisionSource = 'redis'
    try {
      reply = await this.#batcher.send(mode, key, rules, cost)
      if (this.#down) this.#recovered()
    } catch (err) {
      if (!isUnavailable(err)) throw err
      this.#outage(err)
      this.#stats.outageDecisions++
      source = this.settings.outage
      reply = this.#fallback(mode, rules, cost, err)
    }
    const result = decide(key, rules, reply, source, mode === 'p' ? cost : 0)
    if (mode === 'c') this.#count(result, rules, cost)
    return result
  }

  #fallback(mode: 'c' | 'p', rules: Bound[], cost: number, err: CacheError): RawReply {
    const now = this.settings.now()
    const policy = this.settings.outage
    if (policy === 'local') return this.#local.run(mode, rules, cost, now)
    return policyReply(policy, rules, now, err)
  }

  #count(result: RateLimitResult, rules: Bound[], cost: number): void {
    this.#tally(result, rules, cost)
    if (!result.allowed && result.retryAfterMs > 0 && this.#blocked.enabled && result.source === 'redis') {
      const maxCost = Math.min(...rules.map((r) => r.capacity))
      this.#blocked.remember(result.key, this.settings.now() + result.retryAfterMs, cost, maxCost, result)
    }
  }

  #tally(result: RateLimitResult, rules: ReadonlyArray<{ name: string }>, cost: number): void {
    if (this.settings.analyticsTtlMs > 0) this.#analytics.count(rules, result.allowed)
    const s = this.#stats
    if (result.allowed) s.allowed++
    else s.denied++
    for (const r of rules) {
      let c = s.byRule[r.name]
      if (!c) {
        c = { allowed: 0, denied: 0 }
        s.byRule[r.name] = c
      }
      if (result.allowed) c.allowed++
      else c.denied++
    }
    if (decisionChannel.hasSubscribers) {
      decisionChannel.publish({
        rules: rules.map((r) => r.name),
        allowed: result.allowed,
        source: result.source,
        cost,
      })
    }
  }

  #outage(err: CacheError): void {
    if (this.#down) return
    this.#down = true
    this.#stats.outages++
    if (outageChannel.hasSubscribers) outageChannel.publish({ state: 'down', policy: this.settings.outage })
    this.emit('outage', err)
  }

  #recovered(): void {
    this.#down = false
    this.#local.clear()
    if (outageChannel.hasSubscribers) outageChannel.publish({ state: 'up', policy: this.settings.outage })
    this.emit('recovered')
  }

  /**
   * Gives back `cost` units `key` consumed under every rule (see model.ts `refund`); returns how many rules
   * gave units back. The key's cached denial in this process is forgotten (it may pass again).
   */
  async refund(keyArg: unknown, costArg: unknown = 1): Promise<number> {
    const key = checkKey(keyArg)
    const cost = checkCost(costArg)
    const rules = this.#binder.bind(key)
    this.#blocked.delete(key)
    const keys: string[] = []
    const args: Array<string | number> = [this.settings.clock === 'client' ? this.settings.now() : '', cost]
    const algos = new Set<string>()
    for (const r of rules) {
      const { algorithm, limit, windowMs, burst } = r.params
      keys.push(r.keys.state)
      if (algorithm === 'sliding-log') keys.push(r.keys.log)
      args.push(algorithm, limit, windowMs, burst)
      algos.add(algorithm)
    }
    const id = [...algos].sort().join('+')
    try {
      const fn = this.conn.defineScript<number>(
        `ratelimit:refund/${id}/${keys.length}`,
        `${algorithmModules(id)}${scripts.refund}`,
        { keys: keys.length },
      )
      return Number(await fn(keys, args))
    } catch (err) {
      if (!isUnavailable(err) || this.settings.outage !== 'local') throw err
      return this.#local.refund(rules, cost, this.settings.now())
    }
  }

  /** Deletes every rule's state and block for `key` (in Redis, the block cache and the local store). */
  async reset(keyArg: unknown): Promise<void> {
    const key = checkKey(keyArg)
    const all = this.#binder.allVariantKeys(key)
    this.#blocked.delete(key)
    this.#local.delete(all.flatMap((k) => [k.state, k.log, k.block]))
    // in Redis a block is a field of the state hash: the block key names are the in-memory store's
    const redisKeys = all.flatMap((k) => [k.state, k.log])
    await this.conn.send(['DEL', ...redisKeys], { key: redisKeys[0]! })
  }

  /** Blocks `key` under every rule for `ms`; returns the blocked-until time in the limiter's clock. */
  async block(keyArg: unknown, ms: number): Promise<number> {
    const key = checkKey(keyArg)
    const variants = this.#binder.allVariants(key)
    const all = variants.map((v) => v.keys)
    const stateKeys = all.map((k) => k.state)
    // fixed-window counts carry the block too (see fixed-window.lua): their windows go along
    const windows = variants.map((v) => (v.params.algorithm === 'fixed-window' ? v.params.windowMs : 0))
    const rules = this.#binder.bind(key)
    const now = this.settings.now()
    let until: number
    try {
      const fn = this.conn.defineScript<number>(`ratelimit:block/${stateKeys.length}`, scripts.block, {
        keys: stateKeys.length,
      })
      until = Number(await fn(stateKeys, [this.settings.clock === 'client' ? now : '', ms, ...windows]))
    } catch (err) {
      if (!isUnavailable(err) || this.settings.outage !== 'local') throw err
      until = this.#local.block(
        all.map((k) => k.block),
        ms,
        now,
      )
    }
    if (this.#blocked.enabled) {
      const parts: RuleResult[] = rules.map((r) => ({
        rule: r.name,
        allowed: false,
        remaining: 0,
        limit: r.params.limit,
        windowMs: r.params.windowMs,
        resetAfterMs: ms,
        retryAfterMs: ms,
        blocked: true,
      }))
      const first = parts[0]!
      this.#blocked.remember(key, now + ms, 0, Math.min(...rules.map((r) => r.capacity)), {
        allowed: false,
        remaining: 0,
        limit: first.limit,
        windowMs: first.windowMs,
        resetAfterMs: ms,
        retryAfterMs: ms,
        rule: first.rule,
        key,
        source: 'cache',
        rules: parts,
      })
    }
    return until
  }

  /** Adds this process's per-rule analytics to the shared hash now (see Analytics). */
  flushStats(): Promise<void> {
    return this.#analytics.flushStats()
  }

  /** Allowed/denied counts per rule, summed over every process (flushes this one's first; needs `analytics`). */
  ruleStats(): Promise<Record<string, { allowed: number; denied: number }>> {
    return this.#analytics.ruleStats()
  }

  /** Allowed/denied counts per rule for `key`, from Redis (needs `analytics`). */
  keyStats(keyArg: unknown): Promise<Record<string, { allowed: number; denied: number }>> {
    return this.#analytics.keyStats(checkKey(keyArg))
  }

  /** Stops the analytics flush timer after a last flush. Idempotent. */
  close(): Promise<void> {
    return this.#analytics.close()
  }
}
