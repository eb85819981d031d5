import { type Duration, InvalidOptionError, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import {
  DEFAULT_ADAPTIVE_MIN_SCALE,
  DEFAULT_BLOCK_CACHE_MAX_KEYS,
  DEFAULT_CLOCK,
  DEFAULT_LOCAL_MAX_KEYS,
  DEFAULT_OUTAGE_POLICY,
  DEFAULT_PREFIX,
  MAX_BURST_TIMES_WINDOW,
  MAX_LIMIT,
  MAX_WINDOW_MS,
} from './defaults.js'
import { ALGORITHMS, type Algorithm, type RuleParams } from './model.js'

/** What happens to requests while Redis cannot be reached. */
export type OutagePolicy = 'fail-open' | 'fail-closed' | 'local'

/** An A/B variant of a rule: keys are assigned to variants by a stable hash, in proportion to `weight`. */
export interface RuleVariant {
  /** Name of the variant (letters, digits, `._-`); its state is kept apart from the other variants'. */
  name: string
  /** Share of keys given this variant, relative to the other variants' weights. */
  weight: number
  /** Overrides the rule's limit. */
  limit?: number
  /** Overrides the rule's window. */
  window?: Duration
  /** Overrides the rule's burst. */
  burst?: number
}

/** One rate-limit rule. */
export interface RuleOptions {
  /** The algorithm; see the algorithm chooser in docs/rate-limiting.md. */
  algorithm: Algorithm
  /** Units (requests, or weighted cost) allowed per window. */
  limit: number
  /** The window: milliseconds or a string like `'1m'` (1 ms to 30 days). */
  window: Duration
  /** Bucket size of token-bucket and GCRA: how many units may pass at once. @default limit */
  burst?: number
  /** Name of the rule, part of its Redis keys and of the RateLimit headers. @default `<algorithm>-<limit>-<window ms>` */
  name?: string
  /** Block a key this long when this rule denies it (a penalty). @default no penalty */
  penalty?: Duration
  /** A/B variants of the rule, chosen per key by a stable hash. */
  variants?: RuleVariant[]
}

/** Options of `new RateLimiter(conn, options)`: one rule and how it runs. */
export interface RateLimiterOptions extends RuleOptions {
  /** Namespace part under the connection's namespace. @default 'rl' */
  namespace?: string
  /** 'server': the scripts read Redis's TIME; 'client': `now()` is sent (hosts that forbid TIME, tests). @default 'server' */
  clock?: 'server' | 'client'
  /** The client clock in ms (also used by the block cache and the local fallback). @default Date.now */
  now?: () => number
  /** Behaviour while Redis is unreachable. @default 'local' */
  outage?: OutagePolicy
  /** Reject keys known to be blocked in-process, without a round trip. @default true */
  blockCache?: boolean | { maxKeys?: number }
  /** Keys the 'local' fallback keeps state for. @default 100000 */
  localMaxKeys?: number
  /** Count allowed/denied per rule for each key in Redis (`limiter.keyStats(key)`). @default false */
  analytics?: boolean | { ttl?: Duration }
  /** Scales the limit (and burst) by the load the caller reports: 0 = idle (full limit), 1 = overloaded. */
  adaptive?: { load: () => number; minScale?: number }
}

/** A rule resolved to numbers (what `limiter.rule` returns). */
export interface ResolvedRule {
  name: string
  params: RuleParams
  penaltyMs: number
  variants: Array<{ name: string; weight: number; params: RuleParams }>
}

/** Resolved limiter options. @internal */
export interface ResolvedLimiterOptions {
  rule: ResolvedRule
  namespace: string
  clock: 'server' | 'client'
  now: () => number
  outage: OutagePolicy
  blockCacheMaxKeys: number
  localMaxKeys: number
  analyticsTtlMs: number
  adaptive: { load: () => number; minScale: number } | undefined
}

const NAME = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: "must be 1–64 letters, digits or '._-'" })
const fn = <T>() => z.custom<T>((v) => typeof v === 'function', { message: 'must be a function' })
const limitSchema = z.number().int().min(1).max(MAX_LIMIT)

const variantSchema = z.strictObject({
  name: NAME,
  weight: z.number().positive().finite(),
  limit: limitSchema.optional(),
  window: zDuration({ min: 1, max: MAX_WINDOW_MS }).optional(),
  burst: limitSchema.optional(),
})

const ruleShape = {
  algorithm: z.enum(ALGORITHMS as [Algorithm, ...Algorithm[]]),
  limit: limitSchema,
  window: zDuration({ min: 1, max: MAX_WINDOW_MS }),
  burst: limitSchema.optional(),
  name: NAME.optional(),
  penalty: zDuration({ min: 0, max: MAX_WINDOW_MS }).optional(),
  variants: z.array(variantSchema).min(1).max(16).optional(),
}

/** The zod schema of a rule (shared by limiters and the live rule store). @internal */
export const ruleSchema = z.strictObject(ruleShape)

const limiterSchema = z.strictObject({
  ...ruleShape,
  namespace: NAME.optional(),
  clock: z.enum(['server', 'client']).optional(),
  now: fn<() => number>().optional(),
  outage: z.enum(['fail-open', 'fail-closed', 'local']).optional(),
  blockCache: z
    .union([z.boolean(), z.strictObject({ maxKeys: z.number().int().min(1).optional() })])
    .optional(),
  localMaxKeys: z.number().int().min(1).optional(),
  analytics: z.union([z.boolean(), z.strictObject({ ttl: zDuration({ min: 1000 }).optional() })]).optional(),
  adaptive: z
    .strictObject({ load: fn<() => number>(), minScale: z.number().gt(0).max(1).optional() })
    .optional(),
})

const PKG = '@cache/ratelimit'

function toParams(
  algorithm: Algorithm,
  limit: number,
  windowMs: number,
  burst: number | undefined,
  field: string,
): RuleParams {
  const bucket = algorithm === 'token-bucket' || algorithm === 'gcra'
  if (burst !== undefined && !bucket) {
    throw new InvalidOptionError(
      PKG,
      `${field}burst`,
      `must not be set for ${algorithm} (token-bucket and gcra only)`,
    )
  }
  const b = bucket ? (burst ?? limit) : limit
  if (b * windowMs > MAX_BURST_TIMES_WINDOW || limit * windowMs > MAX_BURST_TIMES_WINDOW) {
    throw new InvalidOptionError(
      PKG,
      `${field}limit`,
      'and burst × window (ms) must stay below 2^51 for exact arithmetic',
    )
  }
  return { algorithm, limit, windowMs, burst: b }
}

/** Validates and resolves one rule. @internal */
export function resolveRule(input: z.output<typeof ruleSchema>, field = ''): ResolvedRule {
  const params = toParams(input.algorithm, input.limit, input.window, input.burst, field)
  const name = input.name ?? `${input.algorithm}-${input.limit}-${input.window}`
  const variants = (input.variants ?? []).map((v, i) => ({
    name: v.name,
    weight: v.weight,
    params: toParams(
      input.algorithm,
      v.limit ?? input.limit,
      v.window ?? input.window,
      v.burst ?? (v.limit !== undefined ? undefined : input.burst),
      `${field}variants.${i}.`,
    ),
  }))
  if (new Set(variants.map((v) => v.name)).size !== variants.length) {
    throw new InvalidOptionError(PKG, `${field}variants`, 'must have distinct names')
  }
  return Object.freeze({ name, params, penaltyMs: input.penalty ?? 0, variants })
}

/** Parses a rule given by a caller (or read from Redis). @internal */
export function parseRule(input: unknown, field = ''): ResolvedRule {
  return resolveRule(parseOptions(PKG, ruleSchema, input, field.replace(/\.$/, '')), field)
}

/** Validates `new RateLimiter` options into a frozen, fully defaulted object. @internal */
export function resolveLimiterOptions(input: RateLimiterOptions): ResolvedLimiterOptions {
  const o = parseOptions(PKG, limiterSchema, input)
  const rule = resolveRule(o)
  const blockCache = o.blockCache ?? true
  const analytics = o.analytics ?? false
  return Object.freeze({
    rule,
    namespace: o.namespace ?? DEFAULT_PREFIX,
    clock: o.clock ?? DEFAULT_CLOCK,
    now: o.now ?? Date.now,
    outage: o.outage ?? DEFAULT_OUTAGE_POLICY,
    blockCacheMaxKeys:
      blockCache === false
        ? 0
        : blockCache === true
          ? DEFAULT_BLOCK_CACHE_MAX_KEYS
          : (blockCache.maxKeys ?? DEFAULT_BLOCK_CACHE_MAX_KEYS),
    localMaxKeys: o.localMaxKeys ?? DEFAULT_LOCAL_MAX_KEYS,
    analyticsTtlMs: analytics === false ? 0 : analytics === true ? 86_400_000 : (analytics.ttl ?? 86_400_000),
    adaptive: o.adaptive
      ? { load: o.adaptive.load, minScale: o.adaptive.minScale ?? DEFAULT_ADAPTIVE_MIN_SCALE }
      : undefined,
  })
}
