export { type BreakerState, CircuitBreaker } from './breaker.js'
export {
  type ConnectOptions,
  configFromEnv,
  type NodeAddress,
  type NodeAddressInput,
  type ResolvedConfig,
  redactUrl,
  resolveConfig,
  type TlsOptions,
} from './config.js'
export { connect } from './connect.js'
export {
  breakerChannel,
  type CommandEvent,
  Connection,
  commandChannel,
  type HealthReport,
  type IoRedisOptions,
  type MasterNode,
  type NodeHealth,
  parseInfo,
  type ScriptFn,
  type ScriptOptions,
  type SendOptions,
  toCacheError,
} from './connection.js'
export { type BackoffInput, backoff, sleep, withDeadline } from './deadline.js'
export { type Duration, formatDuration, parseDuration, zDuration } from './duration.js'
export {
  AuthError,
  CacheError,
  type CacheErrorCode,
  type CacheErrorCodes,
  type ClientErrorCode,
  ClosedError,
  CommandError,
  CrossSlotError,
  InvalidArgumentError,
  InvalidOptionError,
  isCacheError,
  isUnavailable,
  TimeoutError,
  TlsError,
  UnavailableError,
  UnsupportedError,
} from './errors.js'
export { encodeKeyPart, escapeGlob, hashSlot, KeyBuilder, type KeyPart, MAX_KEY_PART_LENGTH } from './keys.js'
export { Lease, type LeaseNotice, type LeaseOptions } from './lease.js'
export { hgetallRecord } from './reply.js'
export { type BatchScript, ScriptBatcher } from './script-batcher.js'
export { DEFAULT_LATENCY_SAMPLES, LatencyRing, type LatencySummary } from './stats.js'
export { type MessageListener, Subscriber } from './subscriber.js'
export type { AnyRedis, Arg, RedisCluster, RedisSentinel, RedisStandalone, Topology } from './types.js'
export { parseOptions } from './validate.js'
