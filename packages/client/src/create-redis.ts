import { createClient, createCluster, createSentinel, type RedisClientOptions } from '@redis/client'
import { fatalConnectError } from './auth-tls.js'
import type { NodeAddress, ResolvedConfig } from './config.js'
import { backoff } from './deadline.js'
import { CacheError } from './errors.js'
import { TAG } from './pkg.js'
import type { AnyRedis, RedisCluster, RedisSentinel, RedisStandalone } from './types.js'

/** node-redis client options for one data node, from the resolved config. @internal */
export function nodeClientOptions(
  config: ResolvedConfig,
  onReconnecting: (attempt: number, delayMs: number) => void,
  initial: () => boolean = () => false,
) {
  const { reconnect } = config
  const socket: Record<string, unknown> = {
    connectTimeout: config.connectTimeoutMs,
    reconnectStrategy: (retries: number, cause: Error) => {
      // Retrying cannot fix wrong credentials or an untrusted certificate on the first connection: say so
      // now. Later (after a password rotation, say) the client keeps retrying behind the breaker.
      const fatal = initial() ? fatalConnectError(cause) : undefined
      if (fatal) return fatal
      if (retries >= reconnect.maxAttempts) {
        return new CacheError('E_UNAVAILABLE', `${TAG} gave up reconnecting after ${retries} attempts`, {
          cause,
        })
      }
      const delay = backoff({
        attempt: retries,
        base: reconnect.initialDelayMs,
        max: reconnect.maxDelayMs,
        jitter: reconnect.jitter,
      })
      onReconnecting(retries + 1, delay)
      return delay
    },
  }
  if (config.tls) Object.assign(socket, { tls: true }, config.tls)
  const options: RedisClientOptions = {
    socket: socket as RedisClientOptions['socket'],
    RESP: config.resp,
    // No commandsQueueMaxLength: node-redis applies it to every queued command, connected or not, which made
    // a connected client reject a burst ("The queue is full"). The guarded path bounds the offline queue.
    disableOfflineQueue: config.offlineQueue === false,
  }
  if (config.username) options.username = config.username
  if (config.password) options.password = config.password
  if (config.clientName) options.name = config.clientName
  return options
}

/** Creates the node-redis objects for a resolved config (not yet connected). @internal */
export function createRedis(
  config: ResolvedConfig,
  onReconnecting: (attempt: number, delayMs: number) => void,
  initial: () => boolean = () => false,
) {
  const base = nodeClientOptions(config, onReconnecting, initial)
  const withAddress = (n: NodeAddress) =>
    ({ ...base, socket: { ...base.socket, host: n.host, port: n.port } }) as RedisClientOptions
  if (config.topology === 'cluster') {
    const make = (useReplicas: boolean) =>
      createCluster({
        rootNodes: config.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
        defaults: base as never,
        useReplicas,
        RESP: config.resp,
      }) as unknown as RedisCluster
    const redis = make(false)
    const replicas = config.replicaReads ? make(true) : redis
    return {
      redis,
      replicas,
      createSubscriber: () => (redis as RedisCluster).duplicate() as unknown as AnyRedis,
    }
  }
  if (config.topology === 'sentinel' && config.sentinel) {
    const s = config.sentinel
    const sentinelClientOptions: Record<string, unknown> = {
      socket: {
        connectTimeout: config.connectTimeoutMs,
        ...(config.tls ? { tls: true, ...config.tls } : {}),
      },
    }
    if (s.username) sentinelClientOptions.username = s.username
    if (s.password) sentinelClientOptions.password = s.password
    const { database: _db, ...nodeOptions } = { ...base, database: config.db }
    const make = (replicaPoolSize: number) =>
      createSentinel({
        name: s.name,
        sentinelRootNodes: s.sentinels,
        nodeClientOptions: { ...nodeOptions, database: config.db } as never,
        sentinelClientOptions: sentinelClientOptions as never,
        masterPoolSize: 1,
        replicaPoolSize,
        scanInterval: 1000,
        RESP: config.resp,
      }) as unknown as RedisSentinel
    const redis = make(0)
    const replicas = config.replicaReads ? make(1) : redis
    return { redis, replicas, createSubscriber: () => make(0) as unknown as AnyRedis }
  }
  const primary = { ...withAddress({ host: config.host, port: config.port }), database: config.db }
  const redis = createClient(primary) as unknown as RedisStandalone
  const replicaNode = config.replicaNodes[0]
  const replicas = replicaNode
    ? (createClient({ ...withAddress(replicaNode), database: config.db }) as unknown as RedisStandalone)
    : redis
  return { redis, replicas, createSubscriber: () => redis.duplicate() as unknown as AnyRedis }
}
