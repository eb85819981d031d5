export { type CapacityInput, type CapacityPlan, erlangC, workersNeeded } from './capacity.js'
export type { QueueWarning } from './checks.js'
export {
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterSelector,
  DeadLetters,
  type ReplayResult,
} from './dead-letters.js'
export {
  completedChannel,
  deadLetterChannel,
  failedChannel,
  replayedChannel,
  retriedChannel,
  stalledChannel,
  tenantDelayedChannel,
  timeoutChannel,
  warningChannel,
  zombieChannel,
} from './diagnostics.js'
export {
  InvalidPayloadError,
  JobStalledError,
  JobTimeoutError,
  NotReplicatedError,
  type QueueErrorCode,
} from './errors.js'
export type { AttemptRecord } from './history.js'
export type {
  AddOptions,
  BackoffOptions,
  JobDefaults,
  JobDefinition,
  ProcessOptions,
  QueueOptions,
  Retention,
} from './options.js'
export {
  type BulkJob,
  defineQueue,
  type QueueCounts,
  type QueueStats,
  type Repeat,
  TypedQueue,
} from './queue.js'
export { type Closable, closeOnSignal } from './shutdown.js'
export { type Handlers, type JobContext, type JobHandler, type QueueJob, QueueWorker } from './worker.js'
