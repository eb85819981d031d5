export { run } from './cli.js'
export type { Command, CommandContext, FlagSpec } from './command.js'
export { type BenchOp, type BenchResult, bench } from './commands/bench.js'
export { type BigKey, type BigKeysResult, type NamespaceUsage, namespaceOf } from './commands/bigkeys.js'
export { type HealthResult, health, type NodeReport } from './commands/health.js'
export { COMMANDS } from './commands/index.js'
export { type InspectResult, inspectKey } from './commands/inspect.js'
export type { InvalidateResult } from './commands/invalidate.js'
export type { KeysResult } from './commands/keys.js'
export {
  DENIED_COLUMNS,
  type Decisions,
  decisionsOf,
  deniedRows,
  type LimitsResult,
  RULE_COLUMNS,
  readLimits,
  ruleRows,
} from './commands/limits.js'
export type { LocksResult } from './commands/locks.js'
export {
  list as listQueues,
  QUEUE_LATENCY_METRICS,
  type QueueLatency,
  type QueueState,
  queueColumns,
  queueLatency,
  queueRows,
  scanQueues,
  withQueue,
} from './commands/queues.js'
export { type TenantSessions, tenants as tenantSessions } from './commands/sessions.js'
export { type StatsResult, sampleStats, type TierStats, windowValue } from './commands/stats.js'
export { type ConnectionFlags, connectionOptions } from './connection-options.js'
export { type CliErrorCode, UsageError } from './errors.js'
export { EXIT } from './exit-codes.js'
export { readHeader, type ValueHeader } from './header.js'
export { type CliIo, formatBytes, formatMs } from './output.js'
