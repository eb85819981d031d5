import diagnostics from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import { type CacheError, type Connection, hashSlot, isCacheError, type ScriptFn } from '@cache/client'
import { DEFAULT_FAIL_CLOSED_RETRY_MS } from './defaults.js'
import { CostExceedsLimitError, InvalidArgumentError } from './errors.js'
import type { RateLimitKeys } from './keys.js'
import { type BoundRule, LocalStore, type RawReply } from './local.js'
import { capacityOf, type RuleParams } from './model.js'
import type { OutagePolicy, ResolvedRule } from './options.js'
import * as scripts from './scripts/index.js'

/** diagnostics_channel `cache:ratelimit:decision`: `{ rules, allowed, source, cost }` after every decision. */
export const decisionChannel = diagnostics.channel('cache:ratelimit:decision')
/** diagnostics_channel `cache:ratelimit:outage`: `{ state: 'down' | 'up', policy }` on outage transitions. */
export const outageChannel = diagnostics.channel('cache:ratelimit:outage')

/** Where a decision was made. */
export type DecisionSource = 'redis' | 'cache' | 'local' | 'fail-open' | 'fail-closed'

/** One rule's part of a decision. */
export interface RuleResult {
  /** The rule's name (with `.variant` when an A/B variant applied). */
  rule: string
  allowed: boolean
  remaining: number
  limit: number
  windowMs: number
  resetAfterMs: number
  retryAfterMs: number
  /** The key was blocked (explicitly, or by this rule's penalty). */
  blocked: boolean
}

/** The outcome of `consume()` / `peek()`. */
export interface RateLimitResult {
  /** The request may proceed (it has been counted, for `consume`). */
  allowed: boolean
  /** Units left under the most constraining rule. */
  remaining: number
  /** The limit of the most constraining rule. */
  limit: number
  /** Window of the most constraining rule, in ms. */
  windowMs: number
  /** Milliseconds until the most constraining rule is back to full capacity. */
  resetAfterMs: number
  /** Milliseconds until a request of the same cost can pass (0 when allowed). */
  retryAfterMs: number
  /** The most constraining rule's name. */
  rule: string
  /** The limited key. */
  key: string
  /** Where the decision was made: Redis, the in-process block cache, or the outage policy. */
  source: DecisionSource
  /** Every rule's part, in the order the rules were given. */
  rules: RuleResult[]
}

/** Counters of a limiter since it was created. */
export interface RateLimitStats {
  allowed: number
  denied: number
  /** Denials answered by the in-process block cache, without a round trip. */
  cacheHits: number
  /** Decisions made by the outage policy while Redis was unreachable. */
  outageDecisions: number
  /** Times Redis became unreachable. */
  outages: number
  /** Allowed and denied per rule name. */
  byRule: Record<string, { allowed: number; denied: number }>
}

/** A rule as a limiter holds it; `rule` may be swapped by live updates. @internal */
export interface RuleSlot {
  rule: ResolvedRule
  adaptive: { load: () => number; minScale: number } | undefined
}

/** A rule bound to a key, with what the batcher needs. */
type Bound = BoundRule & { capacity: number; sig: string }
type Fixed = Omit<Bound, 'keys'>
/** The key-independent part of rules without variants or adaptive scaling, computed once per rule. */
const FIXED = new WeakMap<ResolvedRule, Fixed>()

/** A request waiting for the next batch. */
interface Pending {
  mode: 'c' | 'p'
  key: string
  rules: Bound[]
  cost: number
  resolve: (reply: RawReply) => void
  reject: (err: unknown) => void
}

/** How often per-rule analytics are added to the shared hash. */
const ANALYTICS_FLUSH_MS = 5_000

/** Requests per script call at most, so one call never holds the server for long. */
const MAX_BATCH = 64
/** Keys whose bound rules are kept. */
const BOUND_CACHE_MAX_KEYS = 4096

/** How an engine runs. @internal */
export interface EngineSettings {
  clock: 'server' | 'client'
  now: () => number
  outage: OutagePolicy
  blockCacheMaxKeys: number
  localMaxKeys: number
  analyticsTtlMs: number
}

const ALGO_SOURCES: Record<string, string> = {
  'fixed-window': scripts.fixedWindow,
  'sliding-window': scripts.slidingWindow,
  'sliding-log': scripts.slidingLog,
  'token-bucket': scripts.tokenBucket,
  gcra: scripts.gcra,
}

/** FNV-1a, 32 bits: a stable hash for assigning keys to A/B variants. */
export function stableHash(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0
}

/** The numbers of a rule for one key: its A/B variant and the adaptive scale applied. @internal */
export function effectiveRule(
  slot: RuleSlot,
  key: string,
): { name: string; params: RuleParams; penaltyMs: number; capacity: number } {
  const { rule } = slot
  let name = rule.name
  let params = rule.params
  if (rule.variants.length > 0) {
    const total = rule.variants.reduce((s, v) => s + v.weight, 0)
    let point = ((stableHash(key) % 1_000_000) / 1_000_000) * total
    for (const v of rule.variants) {
      point -= v.weight
      params = v.params
      name = `${rule.name}.${v.name}`
      if (point < 0) break
    }
  }
  const capacity = capacityOf(params)
  if (slot.adaptive) {
    let load = 0
    try {
      load = clamp01(slot.adaptive.load())
    } catch {}
    const scale = 1 - load * (1 - slot.adaptive.minScale)
    if (scale < 1) {
      params = {
        ...params,
        limit: Math.max(1, Math.floor(params.limit * scale)),
        burst: Math.max(1, Math.floor(params.burst * scale)),
      }
    }
  }
  return { name, params, penaltyMs: rule.penaltyMs, capacity }
}

/** Validates a cost argument. @internal */
export function checkCost(cost: unknown): number {
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 1) {
    throw new InvalidArgumentError('cost', `must be a positive integer, got ${String(cost)}`)
  }
  return cost
}

/** Validates a key argument. @internal */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError(
      'key',
      `must be a non-empty string, got ${typeof key === 'string' ? '""' : typeof key}`,
    )
  }
  return key
}

function isOutage(err: unknown): err is CacheError {
  return isCacheError(err, 'E_UNAVAILABLE') || isCacheError(err, 'E_TIMEOUT')
}

/**
 * Runs one or more rules for a key atomically: one consume.lua call over every rule's keys (one Cluster
 * slot), with the block cache in front and the outage policy behind. Shared by RateLimiter and
 * CombinedLimiter. Events: `outage` (CacheError), `recovered`. @internal
 */
export class Engine extends EventEmitter {
  readonly conn: Connection
  readonly keys: RateLimitKeys
  readonly slots: ReadonlyArray<RuleSlot>
  readonly settings: EngineSettings
  readonly #scripts = new Map<string, ScriptFn<RawReply>>()
  readonly #local: LocalStore
  readonly #blocked = new Map<
    string,
    {
      until: number
      minCost: number
      maxCost: number
      result: RateLimitResult
      names: Array<{ name: string }>
      last?: RateLimitResult
    }
  >()
  #down = false
  readonly #queues = new Map<number, Pending[]>()
  readonly #unflushed = new Map<string, { allowed: number; denied: number }>()
  #flushTimer: NodeJS.Timeout | undefined
  readonly #bound = new Map<string, { rules: ResolvedRule[]; bound: Bound[] }>()
  #scheduled = false
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

  #bind(key: string): Bound[] {
    const cached = this.#bound.get(key)
    if (cached) {
      let fresh = true
      for (let i = 0; i < this.slots.length; i++) if (cached.rules[i] !== this.slots[i]!.rule) fresh = false
      if (fresh) return cached.bound
    }
    let cacheable = true
    const out: Bound[] = []
    for (const slot of this.slots) {
      let fixed = slot.rule.variants.length === 0 && !slot.adaptive ? FIXED.get(slot.rule) : undefined
      if (!fixed) {
        const r = effectiveRule(slot, key)
        const { algorithm, limit, windowMs, burst } = r.params
        fixed = { ...r, sig: `${r.name}|${algorithm}|${limit}|${windowMs}|${burst}|${r.penaltyMs}` }
        if (slot.rule.variants.length === 0 && !slot.adaptive) FIXED.set(slot.rule, fixed)
        else cacheable = false
      }
      out.push({ ...fixed, keys: this.keys.rule(key, fixed.name) })
    }
    if (cacheable) {
      // recently used keys keep their bound rules (key names, parameters): no re-encoding per request
      this.#bound.set(key, { rules: this.slots.map((s) => s.rule), bound: out })
      if (this.#bound.size > BOUND_CACHE_MAX_KEYS) {
        const oldest = this.#bound.keys().next().value
        if (oldest !== undefined) this.#bound.delete(oldest)
      }
    }
    return out
  }

  #script(algos: string, keyCount: number): ScriptFn<RawReply> {
    const id = `${algos}/${keyCount}`
    let fn = this.#scripts.get(id)
    if (!fn) {
      const source = `local ALGOS = {}\n${algos
        .split('+')
        .map((a) => ALGO_SOURCES[a])
        .join('\n')}\n${scripts.consume}`
      // Batches group requests per node: per slot on a cluster (so cluster-safe), any keys on one server.
      fn = this.conn.defineScript<RawReply>(`ratelimit:${id}`, source, {
        keys: keyCount,
        crossSlot: this.conn.topology !== 'cluster',
      })
      this.#scripts.set(id, fn)
    }
    return fn
  }

  /** Consumes (mode 'c') or checks (mode 'p') `cost` units for `key` under every rule. */
  async run(mode: 'c' | 'p', keyArg: unknown, costArg: unknown = 1): Promise<RateLimitResult> {
    const key = checkKey(keyArg)
    const cost = checkCost(costArg)
    const cached = this.#cacheHit(key, cost, mode === 'c')
    if (cached) return cached
    const rules = this.#bind(key)
    for (const r of rules) {
      if (cost > r.capacity) throw new CostExceedsLimitError(cost, r.capacity, r.name)
    }
    let reply: RawReply
    let source: DecisionSource = 'redis'
    try {
      reply = await this.#send(mode, key, rules, cost)
      if (this.#down) this.#recovered()
    } catch (err) {
      if (!isOutage(err)) throw err
      this.#outage(err)
      this.#stats.outageDecisions++
      source = this.settings.outage
      reply = this.#fallback(mode, rules, cost, err)
    }
    const result = this.#result(key, rules, reply, source, mode === 'p' ? cost : 0)
    if (mode === 'c') this.#count(result, rules, cost)
    return result
  }

  /**
   * Queues a request for the next batch: requests issued in the same tick go to Redis in one script call
   * per node (per slot on a cluster), decided one after the other, each as if sent alone.
   */
  #send(mode: 'c' | 'p', key: string, rules: Bound[], cost: number): Promise<RawReply> {
    return new Promise<RawReply>((resolve, reject) => {
      const group = this.conn.topology === 'cluster' ? hashSlot(rules[0]!.keys[0]) : 0
      let queue = this.#queues.get(group)
      if (!queue) {
        queue = []
        this.#queues.set(group, queue)
      }
      queue.push({ mode, key, rules, cost, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        process.nextTick(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const queues = [...this.#queues.values()]
    this.#queues.clear()
    for (const q of queues) {
      for (let i = 0; i < q.length; i += MAX_BATCH) void this.#sendBatch(q.slice(i, i + MAX_BATCH))
    }
  }

  /** The uniform encoding when every request has the same mode, cost and rules (see consume.lua). */
  #compact(batch: Pending[], requests: Array<string | number>): Array<string | number> {
    if (batch.length < 2) return requests
    const first = batch[0]!
    const n = first.rules.length
    for (const p of batch) {
      if (p.mode !== first.mode || p.cost !== first.cost || p.rules.length !== n) return requests
      for (let i = 0; i < n; i++) if (p.rules[i]!.sig !== first.rules[i]!.sig) return requests
    }
    return ['u', ...requests.slice(0, 3 + n), batch.length]
  }

  async #sendBatch(batch: Pending[]): Promise<void> {
    try {
      const statsTtl = this.settings.analyticsTtlMs
      const index = new Map<string, number>()
      const params: Array<string | number> = []
      const requests: Array<string | number> = []
      const keys: string[] = []
      const algos = new Set<string>()
      for (const p of batch) {
        requests.push(p.mode, p.cost, p.rules.length)
        for (const r of p.rules) {
          const { algorithm, limit, windowMs, burst } = r.params
          const sig = r.sig
          let i = index.get(sig)
          if (i === undefined) {
            i = index.size + 1
            index.set(sig, i)
            params.push(r.name, algorithm, limit, windowMs, burst, r.penaltyMs)
            algos.add(algorithm)
          }
          requests.push(i)
          keys.push(r.keys[0])
          if (algorithm === 'sliding-log') keys.push(r.keys[1])
        }
        if (statsTtl > 0) keys.push(this.keys.stats(p.key))
      }
      const clock = this.settings.clock === 'client' ? this.settings.now() : ''
      const script = this.#script([...algos].sort().join('+'), keys.length)
      const reply = await script(keys, [
        clock,
        statsTtl,
        index.size,
        ...params,
        ...this.#compact(batch, requests),
      ])
      const now = Number(reply[0])
      let o = 1
      for (const p of batch) {
        const n = p.rules.length * 5
        const one: RawReply = [Number(reply[o]), now]
        for (let j = 1; j <= n; j++) one.push(Number(reply[o + j]))
        o += n + 1
        p.resolve(one)
      }
    } catch (err) {
      for (const p of batch) p.reject(err)
    }
  }

  #fallback(mode: 'c' | 'p', rules: BoundRule[], cost: number, err: CacheError): RawReply {
    const now = this.settings.now()
    if (this.settings.outage === 'local') return this.#local.run(mode, rules, cost, now)
    const open = this.settings.outage === 'fail-open'
    const retry = open ? 0 : Math.max(1, Number(err.details.retryAfterMs) || DEFAULT_FAIL_CLOSED_RETRY_MS)
    const reply: RawReply = [open ? 1 : 0, now]
    for (const r of rules) reply.push(open ? 1 : 0, open ? r.params.limit : 0, open ? 0 : retry, retry, 0)
    return reply
  }

  #result(
    key: string,
    rules: BoundRule[],
    reply: RawReply,
    source: DecisionSource,
    peekCost: number,
  ): RateLimitResult {
    const allowed = reply[0] === 1
    const parts: RuleResult[] = rules.map((r, i) => {
      const o = 2 + i * 5
      const ok = reply[o] === 1
      return {
        rule: r.name,
        allowed: ok,
        remaining: Number(reply[o + 1]) + (ok ? peekCost : 0),
        limit: r.params.limit,
        windowMs: r.params.windowMs,
        resetAfterMs: Number(reply[o + 2]),
        retryAfterMs: Number(reply[o + 3]),
        blocked: reply[o + 4] === 1,
      }
    })
    let pick = parts[0]!
    let minRemaining = pick.remaining
    let maxReset = 0
    let maxRetry = 0
    for (const p of parts) {
      if (
        allowed
          ? p.remaining < pick.remaining
          : p.retryAfterMs > pick.retryAfterMs || (pick.allowed && !p.allowed)
      )
        pick = p
      if (p.remaining < minRemaining) minRemaining = p.remaining
      if (p.resetAfterMs > maxReset) maxReset = p.resetAfterMs
      if (!p.allowed && p.retryAfterMs > maxRetry) maxRetry = p.retryAfterMs
    }
    return {
      allowed,
      remaining: allowed ? pick.remaining : minRemaining,
      limit: pick.limit,
      windowMs: pick.windowMs,
      resetAfterMs: maxReset,
      retryAfterMs: allowed ? 0 : maxRetry,
      rule: pick.rule,
      key,
      source,
      rules: parts,
    }
  }

  #count(result: RateLimitResult, rules: Bound[], cost: number): void {
    this.#tally(result, rules, cost)
    if (
      !result.allowed &&
      result.retryAfterMs > 0 &&
      this.settings.blockCacheMaxKeys > 0 &&
      result.source === 'redis'
    ) {
      const maxCost = Math.min(...rules.map((r) => r.capacity))
      this.#remember(result.key, this.settings.now() + result.retryAfterMs, cost, maxCost, result)
    }
  }

  #tally(result: RateLimitResult, rules: ReadonlyArray<{ name: string }>, cost: number): void {
    if (this.settings.analyticsTtlMs > 0) {
      for (const r of rules) {
        let c = this.#unflushed.get(r.name)
        if (!c) {
          c = { allowed: 0, denied: 0 }
          this.#unflushed.set(r.name, c)
        }
        if (result.allowed) c.allowed++
        else c.denied++
      }
      if (!this.#flushTimer) {
        this.#flushTimer = setInterval(() => void this.flushStats().catch(() => {}), ANALYTICS_FLUSH_MS)
        this.#flushTimer.unref()
      }
    }
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

  #remember(key: string, until: number, minCost: number, maxCost: number, result: RateLimitResult): void {
    const existing = this.#blocked.get(key)
    const now = this.settings.now()
    if (existing && existing.until > now && existing.minCost < minCost) return
    this.#blocked.delete(key)
    this.#blocked.set(key, {
      until: Math.max(until, existing && existing.minCost === minCost ? existing.until : 0),
      minCost,
      maxCost,
      result,
      names: result.rules.map((r) => ({ name: r.rule })),
    })
    if (this.#blocked.size > this.settings.blockCacheMaxKeys) {
      const oldest = this.#blocked.keys().next().value
      if (oldest !== undefined) this.#blocked.delete(oldest)
    }
  }

  #cacheHit(key: string, cost: number, count: boolean): RateLimitResult | undefined {
    if (this.settings.blockCacheMaxKeys === 0) return undefined
    const entry = this.#blocked.get(key)
    if (!entry) return undefined
    const left = entry.until - this.settings.now()
    if (left <= 0) {
      this.#blocked.delete(key)
      return undefined
    }
    if (cost < entry.minCost || cost > entry.maxCost) return undefined
    const r = entry.result
    // Per-rule parts are those of the denial that filled the cache; the top-level times are current.
    // Answers within one millisecond share one frozen object: a flood allocates almost nothing.
    let result = entry.last
    if (result?.retryAfterMs !== left) {
      result = Object.freeze({
        ...r,
        allowed: false,
        remaining: 0,
        retryAfterMs: left,
        resetAfterMs: Math.max(left, r.resetAfterMs - (r.retryAfterMs - left)),
        source: 'cache' as const,
      })
      entry.last = result
    }
    if (count) {
      this.#stats.cacheHits++
      this.#tally(result, entry.names, cost)
    }
    return result
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

  /** Deletes every rule's state and block for `key` (in Redis, the block cache and the local store). */
  async reset(keyArg: unknown): Promise<void> {
    const key = checkKey(keyArg)
    const all = this.#bindAllVariants(key)
    this.#blocked.delete(key)
    this.#local.delete(all)
    // the block key names are the in-memory store's; in Redis a block is a field of the state hash
    const redisKeys = all.filter((_, i) => i % 3 !== 2)
    await this.conn.send(['DEL', ...redisKeys], { key: redisKeys[0]! })
  }

  #bindAllVariants(key: string): string[] {
    const out: string[] = []
    for (const slot of this.slots) {
      const names =
        slot.rule.variants.length > 0
          ? slot.rule.variants.map((v) => `${slot.rule.name}.${v.name}`)
          : [slot.rule.name]
      for (const n of names) out.push(...this.keys.rule(key, n))
    }
    return out
  }

  /** Blocks `key` under every rule for `ms`; returns the blocked-until time in the limiter's clock. */
  async block(keyArg: unknown, ms: number): Promise<number> {
    const key = checkKey(keyArg)
    const all = this.#bindAllVariants(key)
    const stateKeys = all.filter((_, i) => i % 3 === 0)
    const blockKeys = all.filter((_, i) => i % 3 === 2)
    const rules = this.#bind(key)
    const now = this.settings.now()
    let until: number
    try {
      const fn = this.conn.defineScript<number>(`ratelimit:block/${stateKeys.length}`, scripts.block, {
        keys: stateKeys.length,
      })
      until = Number(await fn(stateKeys, [this.settings.clock === 'client' ? now : '', ms]))
    } catch (err) {
      if (!isOutage(err) || this.settings.outage !== 'local') throw err
      until = this.#local.block(blockKeys, ms, now)
    }
    if (this.settings.blockCacheMaxKeys > 0) {
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
      this.#remember(key, now + ms, 0, Math.min(...rules.map((r) => r.capacity)), {
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

  /**
   * Adds this process's allowed/denied counts per rule since the last flush to the shared per-rule hash
   * (done every few seconds when `analytics` is on). Counts are kept for the next flush when Redis is down.
   */
  async flushStats(): Promise<void> {
    if (this.#unflushed.size === 0) return
    const batch = [...this.#unflushed]
    this.#unflushed.clear()
    const key = this.keys.ruleStats()
    try {
      await Promise.all(
        batch.flatMap(([rule, c]) => [
          c.allowed ? this.conn.send(['HINCRBY', key, `${rule}:a`, String(c.allowed)], { key }) : undefined,
          c.denied ? this.conn.send(['HINCRBY', key, `${rule}:d`, String(c.denied)], { key }) : undefined,
        ]),
      )
    } catch (err) {
      // at-least-once would double count after a partial failure; losing a flush is the lesser evil for
      // counters, but an outage (nothing written) keeps them for the next flush
      if (isOutage(err)) {
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
    return this.#readStats(this.keys.ruleStats())
  }

  /** Stops the analytics flush timer after a last flush. Idempotent. */
  async close(): Promise<void> {
    if (this.#flushTimer) clearInterval(this.#flushTimer)
    this.#flushTimer = undefined
    await this.flushStats().catch(() => {})
  }

  /** Allowed/denied counts per rule for `key`, from Redis (needs `analytics`). */
  async keyStats(keyArg: unknown): Promise<Record<string, { allowed: number; denied: number }>> {
    return this.#readStats(this.keys.stats(checkKey(keyArg)))
  }

  async #readStats(k: string): Promise<Record<string, { allowed: number; denied: number }>> {
    const raw = await this.conn.send<string[] | Record<string, string>>(['HGETALL', k], { key: k })
    const flat = Array.isArray(raw) ? raw : Object.entries(raw).flat()
    const out: Record<string, { allowed: number; denied: number }> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = String(flat[i])
      const rule = field.slice(0, -2)
      let c = out[rule]
      if (!c) {
        c = { allowed: 0, denied: 0 }
        out[rule] = c
      }
      if (field.endsWith(':a')) c.allowed = Number(flat[i + 1])
      else c.denied = Number(flat[i + 1])
    }
    return out
  }
}
