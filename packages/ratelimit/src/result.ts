import type { CacheError } from '@cache/client'
import { DEFAULT_FAIL_CLOSED_RETRY_MS } from './defaults.js'
import type { BoundRule, RawReply } from './local.js'
import type { OutagePolicy } from './options.js'

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

/**
 * Reads a consume.lua reply (or the in-memory store's, or the outage policy's) into a decision: per-rule
 * parts, and the most constraining rule's numbers at the top level. `peekCost` is added back to `remaining`
 * of a peek, so it reads like a consume would.
 */
export function decide(
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

/** The reply of the 'fail-open' / 'fail-closed' outage policies, shaped like consume.lua's. */
export function policyReply(
  policy: Exclude<OutagePolicy, 'local'>,
  rules: BoundRule[],
  now: number,
  err: CacheError,
): RawReply {
  const open = policy === 'fail-open'
  const retry = open ? 0 : Math.max(1, Number(err.details.retryAfterMs) || DEFAULT_FAIL_CLOSED_RETRY_MS)
  const reply: RawReply = [open ? 1 : 0, now]
  for (const r of rules) reply.push(open ? 1 : 0, open ? r.params.limit : 0, open ? 0 : retry, retry, 0)
  return reply
}
