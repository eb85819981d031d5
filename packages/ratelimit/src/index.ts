export { InvalidArgumentError } from '@cache/client'
export { eventLoopLoad } from './adaptive.js'
export { stableHash } from './binding.js'
export { ConcurrencyLimiter, type ConcurrencyLimiterOptions, type Lease } from './concurrency.js'
export { DEFAULT_LEASE_MS, DEFAULT_OUTAGE_POLICY, DEFAULT_PREFIX } from './defaults.js'
export { decisionChannel, outageChannel } from './diagnostics.js'
export {
  CostExceedsLimitError,
  type RateLimitErrorCode,
  RateLimitedError,
  RateLimitUnavailableError,
} from './errors.js'
export { rateLimitHeaders } from './http.js'
export { RateLimitKeys, type RuleKeys } from './keys.js'
export { CombinedLimiter, type ConsumeOptions, type Limiter, RateLimiter } from './limiter.js'
export {
  ALGORITHMS,
  type Algorithm,
  type CheckResult,
  capacityOf,
  check,
  type RefundResult,
  type RuleParams,
  type RuleState,
  refund,
} from './model.js'
export type { OutagePolicy, RateLimiterOptions, ResolvedRule, RuleOptions, RuleVariant } from './options.js'
export type { DecisionSource, RateLimitResult, RateLimitStats, RuleResult } from './result.js'
export { type LiveLimiterOptions, RuleStore, type RuleStoreOptions, type StoredRule } from './rules.js'
