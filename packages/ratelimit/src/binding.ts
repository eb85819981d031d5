import type { RateLimitKeys, RuleKeys } from './keys.js'
import type { BoundRule } from './local.js'
import { capacityOf, type RuleParams } from './model.js'
import type { ResolvedRule } from './options.js'

/** A rule as a limiter holds it; `rule` may be swapped by live updates. @internal */
export interface RuleSlot {
  rule: ResolvedRule
  adaptive: { load: () => number; minScale: number } | undefined
}

/** A rule bound to a key, with what the batcher needs. */
export type Bound = BoundRule & { capacity: number; sig: string }
type Fixed = Omit<Bound, 'keys'>
/** The key-independent part of rules without variants or adaptive scaling, computed once per rule. */
const FIXED = new WeakMap<ResolvedRule, Fixed>()

/** Keys whose bound rules are kept. */
const BOUND_CACHE_MAX_KEYS = 4096

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

/**
 * Binds a limiter's rules to a user key: the A/B variant and adaptive scale that apply, the numbers the
 * script needs and the key's Redis keys; recently used keys keep their bound rules.
 */
export class RuleBinder {
  readonly #keys: RateLimitKeys
  readonly #slots: ReadonlyArray<RuleSlot>
  readonly #bound = new Map<string, { rules: ResolvedRule[]; bound: Bound[] }>()

  constructor(keys: RateLimitKeys, slots: ReadonlyArray<RuleSlot>) {
    this.#keys = keys
    this.#slots = slots
  }

  bind(key: string): Bound[] {
    const cached = this.#bound.get(key)
    if (cached) {
      let fresh = true
      for (let i = 0; i < this.#slots.length; i++) if (cached.rules[i] !== this.#slots[i]!.rule) fresh = false
      if (fresh) return cached.bound
    }
    let cacheable = true
    const out: Bound[] = []
    for (const slot of this.#slots) {
      let fixed = slot.rule.variants.length === 0 && !slot.adaptive ? FIXED.get(slot.rule) : undefined
      if (!fixed) {
        const r = effectiveRule(slot, key)
        const { algorithm, limit, windowMs, burst } = r.params
        fixed = { ...r, sig: `${r.name}|${algorithm}|${limit}|${windowMs}|${burst}|${r.penaltyMs}` }
        if (slot.rule.variants.length === 0 && !slot.adaptive) FIXED.set(slot.rule, fixed)
        else cacheable = false
      }
      out.push({ ...fixed, keys: this.#keys.rule(key, fixed.name) })
    }
    if (cacheable) {
      // recently used keys keep their bound rules (key names, parameters): no re-encoding per request
      this.#bound.set(key, { rules: this.#slots.map((s) => s.rule), bound: out })
      if (this.#bound.size > BOUND_CACHE_MAX_KEYS) {
        const oldest = this.#bound.keys().next().value
        if (oldest !== undefined) this.#bound.delete(oldest)
      }
    }
    return out
  }

  /** The keys of every rule and every A/B variant of it for `key` (what reset and block touch). */
  allVariantKeys(key: string): RuleKeys[] {
    return this.allVariants(key).map((v) => v.keys)
  }

  /** Every rule and A/B variant of it for `key`: its keys and numbers. */
  allVariants(key: string): Array<{ keys: RuleKeys; params: RuleParams }> {
    const out: Array<{ keys: RuleKeys; params: RuleParams }> = []
    for (const slot of this.#slots) {
      const { rule } = slot
      if (rule.variants.length === 0) out.push({ keys: this.#keys.rule(key, rule.name), params: rule.params })
      for (const v of rule.variants)
        out.push({ keys: this.#keys.rule(key, `${rule.name}.${v.name}`), params: v.params })
    }
    return out
  }
}
