/**
 * The rate-limit arithmetic of every algorithm as pure functions over a plain state and a clock reading.
 * The Lua scripts in `scripts/` implement the same formulas operation for operation (integer arithmetic
 * wherever exactness matters), the in-memory 'local' outage fallback runs these functions, and the
 * property tests check the two against each other with a controlled clock.
 */

/** The five algorithms. */
export type Algorithm = 'fixed-window' | 'sliding-window' | 'sliding-log' | 'token-bucket' | 'gcra'

/** The list of algorithms, in documentation order. */
export const ALGORITHMS: ReadonlyArray<Algorithm> = [
  'fixed-window',
  'sliding-window',
  'sliding-log',
  'token-bucket',
  'gcra',
]

/** One rule's numbers: `limit` units per `windowMs`, at most `burst` at once (bucket algorithms). */
export interface RuleParams {
  algorithm: Algorithm
  limit: number
  windowMs: number
  /** Capacity of token-bucket and GCRA; equals `limit` for the window algorithms. */
  burst: number
}

/** The stored state of one rule for one key (the Redis hash, or the in-memory entry). */
export type RuleState =
  | { kind: 'fixed-window'; w: number; n: number }
  | { kind: 'sliding-window'; w: number; c: number; p: number }
  | { kind: 'sliding-log'; entries: Array<[t: number, cost: number]>; sum: number }
  | { kind: 'token-bucket'; u: number; ts: number }
  | { kind: 'gcra'; tat: number; f: number }

/** The outcome of checking one rule. */
export interface CheckResult {
  allowed: boolean
  /** Units left after this request (when allowed) or now (when denied). */
  remaining: number
  /** Milliseconds until the rule is back to full capacity. */
  resetAfterMs: number
  /** Milliseconds until a request of the same cost can pass (0 when allowed). */
  retryAfterMs: number
  /** The state to store when the request is committed (allowed, and every other rule allowed too). */
  next: RuleState | undefined
  /** How long the committed state must live (the key's PEXPIRE). */
  ttlMs: number
}

/** The most a request may cost under a rule (its limit, or its burst for the bucket algorithms). */
export function capacityOf(rule: RuleParams): number {
  return rule.algorithm === 'token-bucket' || rule.algorithm === 'gcra' ? rule.burst : rule.limit
}

/**
 * Checks a request of `cost` units at time `now` (integer ms) against `state` (undefined: never seen or
 * expired). Pure: nothing is consumed until the caller stores `next`. A denied request never consumes,
 * under every algorithm; `cost` must not exceed `capacityOf(rule)`.
 */
export function check(
  rule: RuleParams,
  state: RuleState | undefined,
  cost: number,
  now: number,
): CheckResult {
  switch (rule.algorithm) {
    case 'fixed-window':
      return fixedWindow(rule, state?.kind === 'fixed-window' ? state : undefined, cost, now)
    case 'sliding-window':
      return slidingWindow(rule, state?.kind === 'sliding-window' ? state : undefined, cost, now)
    case 'sliding-log':
      return slidingLog(rule, state?.kind === 'sliding-log' ? state : undefined, cost, now)
    case 'token-bucket':
      return tokenBucket(rule, state?.kind === 'token-bucket' ? state : undefined, cost, now)
    default:
      return gcra(rule, state?.kind === 'gcra' ? state : undefined, cost, now)
  }
}

function fixedWindow(
  { limit, windowMs: W }: RuleParams,
  state: { w: number; n: number } | undefined,
  cost: number,
  now: number,
): CheckResult {
  const w = now - (now % W)
  const n = state && state.w === w ? state.n : 0
  const reset = w + W - now
  if (n + cost > limit) {
    return {
      allowed: false,
      remaining: Math.max(0, limit - n),
      resetAfterMs: reset,
      retryAfterMs: reset,
      next: undefined,
      ttlMs: 0,
    }
  }
  const n2 = n + cost
  return {
    allowed: true,
    remaining: Math.max(0, limit - n2),
    resetAfterMs: reset,
    retryAfterMs: 0,
    next: { kind: 'fixed-window', w, n: n2 },
    ttlMs: reset,
  }
}

function slidingWindow(
  { limit, windowMs: W }: RuleParams,
  state: { w: number; c: number; p: number } | undefined,
  cost: number,
  now: number,
): CheckResult {
  const cw = now - (now % W)
  let cur = 0
  let prev = 0
  if (state) {
    if (state.w === cw) {
      cur = state.c
      prev = state.p
    } else if (state.w === cw - W) {
      prev = state.c
    }
  }
  const e = now - cw
  const est = (prev * (W - e)) / W + cur
  if (est + cost > limit) {
    const need = limit - cost
    let retry: number
    if (cur <= need) retry = Math.ceil(W - e - ((need - cur) * W) / prev)
    else retry = W - e + Math.max(0, Math.ceil(W - (need * W) / cur))
    return {
      allowed: false,
      remaining: Math.max(0, Math.floor(limit - est)),
      resetAfterMs: cur > 0 ? 2 * W - e : W - e,
      retryAfterMs: Math.max(1, retry),
      next: undefined,
      ttlMs: 0,
    }
  }
  const cur2 = cur + cost
  const est2 = (prev * (W - e)) / W + cur2
  return {
    allowed: true,
    remaining: Math.max(0, Math.floor(limit - est2)),
    resetAfterMs: cur2 > 0 ? 2 * W - e : prev > 0 ? W - e : 0,
    retryAfterMs: 0,
    next: { kind: 'sliding-window', w: cw, c: cur2, p: prev },
    ttlMs: 2 * W - e,
  }
}

function slidingLog(
  { limit, windowMs: W }: RuleParams,
  state: { entries: Array<[number, number]>; sum: number } | undefined,
  cost: number,
  now: number,
): CheckResult {
  const entries = (state?.entries ?? []).filter(([t]) => t > now - W)
  let sum = 0
  for (const [, c] of entries) sum += c
  if (sum + cost > limit) {
    let freed = 0
    let retry = W
    for (const [t, c] of entries) {
      freed += c
      if (sum - freed + cost <= limit) {
        retry = t + W - now
        break
      }
    }
    const last = entries[entries.length - 1]
    return {
      allowed: false,
      remaining: Math.max(0, limit - sum),
      resetAfterMs: last ? last[0] + W - now : 0,
      retryAfterMs: retry,
      next: undefined,
      ttlMs: 0,
    }
  }
  const sum2 = sum + cost
  if (cost > 0) entries.push([now, cost])
  const last = entries[entries.length - 1]
  return {
    allowed: true,
    remaining: Math.max(0, limit - sum2),
    resetAfterMs: last ? last[0] + W - now : 0,
    retryAfterMs: 0,
    next: { kind: 'sliding-log', entries, sum: sum2 },
    ttlMs: W,
  }
}

/** Token bucket in integer units: one token is `W` units, and `L` units drip in per millisecond. */
function tokenBucket(
  { limit: L, windowMs: W, burst: B }: RuleParams,
  state: { u: number; ts: number } | undefined,
  cost: number,
  now: number,
): CheckResult {
  const cap = B * W
  let u = cap
  if (state) u = Math.min(cap, state.u + Math.max(0, now - state.ts) * L)
  const need = cost * W
  if (u < need) {
    return {
      allowed: false,
      remaining: Math.floor(u / W),
      resetAfterMs: Math.ceil((cap - u) / L),
      retryAfterMs: Math.ceil((need - u) / L),
      next: undefined,
      ttlMs: 0,
    }
  }
  const u2 = u - need
  const reset = Math.ceil((cap - u2) / L)
  return {
    allowed: true,
    remaining: Math.floor(u2 / W),
    resetAfterMs: reset,
    retryAfterMs: 0,
    next: { kind: 'token-bucket', u: u2, ts: now },
    ttlMs: Math.max(1, reset),
  }
}

/**
 * GCRA in integer units of 1/L ms: the theoretical arrival time is `tat + f/L` ms, each unit of cost
 * moves it `W` units (W/L ms) ahead, and a request passes while it stays within `B·W` units of now.
 */
function gcra(
  { limit: L, windowMs: W, burst: B }: RuleParams,
  state: { tat: number; f: number } | undefined,
  cost: number,
  now: number,
): CheckResult {
  const tol = B * W
  let base = 0
  if (state && (state.tat > now || (state.tat === now && state.f > 0))) base = (state.tat - now) * L + state.f
  const next = base + cost * W
  if (next > tol) {
    return {
      allowed: false,
      remaining: Math.max(0, Math.floor((tol - base) / W)),
      resetAfterMs: Math.ceil(base / L),
      retryAfterMs: Math.ceil((next - tol) / L),
      next: undefined,
      ttlMs: 0,
    }
  }
  const reset = Math.ceil(next / L)
  return {
    allowed: true,
    remaining: Math.floor((tol - next) / W),
    resetAfterMs: reset,
    retryAfterMs: 0,
    next: { kind: 'gcra', tat: now + Math.floor(next / L), f: next % L },
    ttlMs: Math.max(1, reset),
  }
}

/** What a refund stores: the state with units given back, or undefined when there was nothing to give back. */
export interface RefundResult {
  next: RuleState | undefined
  /** How long the state must live at least (the key's lifetime is only ever extended). */
  ttlMs: number
}

/**
 * Gives back `cost` units consumed earlier (a request that should not have counted), never beyond full
 * capacity: fixed-window and sliding-window take them off the window they were counted in (the current
 * one first, then the previous for sliding-window; a window already over is not touched), token-bucket
 * puts tokens back, GCRA moves the theoretical arrival time back, sliding-log removes the newest entry of
 * exactly that cost inside the window. Pure; blocks are not lifted.
 */
export function refund(
  rule: RuleParams,
  state: RuleState | undefined,
  cost: number,
  now: number,
): RefundResult {
  const none: RefundResult = { next: undefined, ttlMs: 0 }
  if (!state || state.kind !== rule.algorithm) return none
  const { limit: L, windowMs: W, burst: B } = rule
  switch (state.kind) {
    case 'fixed-window': {
      const w = now - (now % W)
      if (state.w !== w || state.n <= 0) return none
      return { next: { kind: 'fixed-window', w, n: Math.max(0, state.n - cost) }, ttlMs: w + W - now }
    }
    case 'sliding-window': {
      const cw = now - (now % W)
      let cur = 0
      let prev = 0
      if (state.w === cw) {
        cur = state.c
        prev = state.p
      } else if (state.w === cw - W) prev = state.c
      if (cur <= 0 && prev <= 0) return none
      const take = Math.min(cur, cost)
      return {
        next: { kind: 'sliding-window', w: cw, c: cur - take, p: Math.max(0, prev - (cost - take)) },
        ttlMs: 2 * W - (now - cw),
      }
    }
    case 'sliding-log': {
      const entries = state.entries.filter(([t]) => t > now - W)
      let at = -1
      for (let i = entries.length - 1; i >= 0; i--) {
        if (entries[i]![1] === cost) {
          at = i
          break
        }
      }
      if (at < 0) return none
      entries.splice(at, 1)
      let sum = 0
      for (const [, c] of entries) sum += c
      return { next: { kind: 'sliding-log', entries, sum }, ttlMs: W }
    }
    case 'token-bucket': {
      const cap = B * W
      const u = Math.min(cap, state.u + Math.max(0, now - state.ts) * L)
      if (u >= cap) return none
      const u2 = Math.min(cap, u + cost * W)
      return { next: { kind: 'token-bucket', u: u2, ts: now }, ttlMs: Math.max(1, Math.ceil((cap - u2) / L)) }
    }
    default: {
      const base = state.tat > now || (state.tat === now && state.f > 0) ? (state.tat - now) * L + state.f : 0
      if (base <= 0) return none
      const nb = Math.max(0, base - cost * W)
      return {
        next: { kind: 'gcra', tat: now + Math.floor(nb / L), f: nb % L },
        ttlMs: Math.max(1, Math.ceil(nb / L)),
      }
    }
  }
}
