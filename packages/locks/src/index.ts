export { findDeadlocks, type WaitEdge } from './diagnostics.js'
export {
  LockAbortedError,
  type LockErrorCode,
  LockExtendError,
  LockLostError,
  LockNotReplicatedError,
  LockTimeoutError,
} from './errors.js'
export { LeaderElection, type LeaderInfo, type LeadershipEvent } from './leader-election.js'
export { heldTooLongChannel, Lock, lostChannel, waitChannel } from './lock.js'
export { type HeldLongerThanOptions, LockGroup, LockManager } from './lock-manager.js'
export type { LockInfo } from './mutex-store.js'
export type {
  AcquireOptions,
  CommonOptions,
  FencingMode,
  LeaderElectionOptions,
  LockManagerOptions,
  ReadWriteLockOptions,
  RedlockOptions,
  SemaphoreOptions,
} from './options.js'
export { Redlock, type RedlockAcquireOptions } from './redlock.js'
export { ReadWriteLock, type RwAcquireOptions } from './rw-lock.js'
export { Semaphore, type SemaphoreAcquireOptions } from './semaphore.js'
