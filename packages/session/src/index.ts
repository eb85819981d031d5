export type { CacheUsage, SessionData } from './engine-types.js'
export {
  CodeLockedError,
  CodeThrottledError,
  SessionConflictError,
  type SessionErrorCode,
  TokenInvalidError,
  TokenReusedError,
} from './errors.js'
export type { HashKey } from './hash.js'
export { type SweepReport, sweepChannel } from './index-sweeper.js'
export { OneTimeCodes, type OneTimeCodesOptions } from './one-time-codes.js'
export type { SessionManagerOptions } from './options.js'
export {
  type IssuedToken,
  RefreshTokens,
  type RefreshTokensOptions,
  tokenReuseChannel,
} from './refresh-tokens.js'
export {
  type CreateInput,
  type Session,
  type SessionInfo,
  SessionManager,
  type SessionStats,
  type TenantScope,
} from './session-manager.js'
