import type { RuleKeys } from './keys.js'
import { check, type RuleParams, type RuleState, refund } from './model.js'

/** One rule as the engine runs it for one key: numbers, penalty and the key's Redis keys. @internal */
export interface BoundRule {
  name: string
  params: RuleParams
  penaltyMs: number
  keys: RuleKeys
}

/**
 * The reply of consume.lua, also produced by the in-memory store: `[allowed, now, then per rule
 * allowed, remaining, resetAfterMs, retryAfterMs, blocked]`. @internal
 */
export type RawReply = number[]

/**
 * The in-memory twin of consume.lua: the same two-phase check-then-commit over the same model functions,
 * keyed by the same key names. Used by the 'local' outage policy, so limits keep being enforced (per
 * process) while Redis is down.
 */
export class LocalStore {
  readonly #states = new Map<string, { state: RuleState; expiresAt: number }>()
  readonly #blocks = new Map<string, number>()
  readonly #maxKeys: number

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys
  }

  /** Number of rule states held. */
  get size(): number {
    return this.#states.size
  }

  /** Checks (mode 'p') or consumes (mode 'c') like consume.lua. */
  run(mode: 'c' | 'p', rules: ReadonlyArray<BoundRule>, cost: number, now: number): RawReply {
    let ok = true
    const results = rules.map((rule) => {
      const until = this.#blocks.get(rule.keys.block)
      if (until !== undefined && until > now) {
        ok = false
        return {
          rule,
          allowed: false,
          remaining: 0,
          reset: until - now,
          retry: until - now,
          blocked: true,
          r: undefined,
        }
      }
      const entry = this.#states.get(rule.keys.state)
      const state = entry && entry.expiresAt > now ? entry.state : undefined
      const r = check(rule.params, state, cost, now)
      if (!r.allowed) ok = false
      return {
        rule,
        allowed: r.allowed,
        remaining: r.remaining,
        reset: r.resetAfterMs,
        retry: r.retryAfterMs,
        blocked: false,
        r,
      }
    })
    if (mode === 'c') {
      for (const x of results) {
        if (ok && x.r?.next) this.#set(x.rule.keys.state, x.r.next, now + x.r.ttlMs)
        else if (!ok && !x.allowed && !x.blocked && x.rule.penaltyMs > 0) {
          this.#setBlock(x.rule.keys.block, now + x.rule.penaltyMs)
          x.reset = Math.max(x.reset, x.rule.penaltyMs)
          x.retry = Math.max(x.retry, x.rule.penaltyMs)
          x.blocked = true
        }
      }
    }
    const reply: RawReply = [ok ? 1 : 0, now]
    for (const x of results) reply.push(x.allowed ? 1 : 0, x.remaining, x.reset, x.retry, x.blocked ? 1 : 0)
    return reply
  }

  /** Gives back `cost` units under every rule, like refund.lua; returns how many rules gave units back. */
  refund(rules: ReadonlyArray<BoundRule>, cost: number, now: number): number {
    let given = 0
    for (const rule of rules) {
      const entry = this.#states.get(rule.keys.state)
      if (!entry || entry.expiresAt <= now) continue
      const r = refund(rule.params, entry.state, cost, now)
      if (!r.next) continue
      this.#set(rule.keys.state, r.next, Math.max(entry.expiresAt, now + r.ttlMs))
      given++
    }
    return given
  }

  /** Blocks the given block keys until `now + ms` (a longer block is kept). */
  block(blockKeys: ReadonlyArray<string>, ms: number, now: number): number {
    const until = now + ms
    for (const k of blockKeys) {
      if ((this.#blocks.get(k) ?? 0) < until) this.#setBlock(k, until)
    }
    return until
  }

  /** Forgets the state and blocks under these keys. */
  delete(keys: ReadonlyArray<string>): void {
    for (const k of keys) {
      this.#states.delete(k)
      this.#blocks.delete(k)
    }
  }

  /** Forgets everything (after Redis is back). */
  clear(): void {
    this.#states.clear()
    this.#blocks.clear()
  }

  #setBlock(key: string, until: number): void {
    this.#blocks.delete(key)
    this.#blocks.set(key, until)
    if (this.#blocks.size > this.#maxKeys) {
      const oldest = this.#blocks.keys().next().value
      if (oldest !== undefined) this.#blocks.delete(oldest)
    }
  }

  #set(key: string, state: RuleState, expiresAt: number): void {
    this.#states.delete(key)
    this.#states.set(key, { state, expiresAt })
    if (this.#states.size > this.#maxKeys) {
      const oldest = this.#states.keys().next().value
      if (oldest !== undefined) this.#states.delete(oldest)
    }
  }
}
