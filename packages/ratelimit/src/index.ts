export { eventLoopLoad } from './adaptive.js'
export {
  ConcurrencyLimiter,
  type ConcurrencyLimiterOptions,
  createConcurrencyLimiter,
  type Lease,
} from './concurrency.js'
export { DEFAULT_LEASE_MS, DEFAULT_OUTAGE_POLICY, DEFAULT_PREFIX } from './defaults.js'
export {
  type DecisionSource,
  decisionChannel,
  outageChannel,
  type RateLimitResult,
  type RateLimitStats,
  type RuleResult,
  stableHash,
} from './engine.js'
export {
  CostExceedsLimitError,
  InvalidArgumentError,
  RateLimitedError,
  RateLimitUnavailableError,
} from './errors.js'
export { RateLimitKeys } from './keys.js'
export {
  CombinedLimiter,
  type ConsumeOptions,
  combineLimits,
  createRateLimiter,
  type Limiter,
  RateLimiter,
} from './limiter.js'
export { type BoundRule, LocalStore, type RawReply } from './local.js'
export {
  ALGORITHMS,
  type Algorithm,
  type CheckResult,
  capacityOf,
  check,
  type RuleParams,
  type RuleState,
} from './model.js'
export type { OutagePolicy, RateLimiterOptions, ResolvedRule, RuleOptions, RuleVariant } from './options.js'
export {
  createRuleStore,
  type LiveLimiterOptions,
  RuleStore,
  type RuleStoreOptions,
  type StoredRule,
} from './rules.js'
