export type { SessionData } from './engine.js'
export { SessionConflictError, type SessionErrorCode } from './errors.js'
export type { SessionManagerOptions } from './options.js'
export {
  type CreateInput,
  type Session,
  type SessionInfo,
  SessionManager,
  type SessionStats,
  type TenantScope,
} from './session-manager.js'
