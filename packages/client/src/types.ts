import type { RedisClientType, RedisClusterType, RedisSentinelType } from '@redis/client'

/** A node-redis standalone client. */
export type RedisStandalone = RedisClientType
/** A node-redis cluster client. */
export type RedisCluster = RedisClusterType
/** A node-redis sentinel client. */
export type RedisSentinel = RedisSentinelType
/** Any node-redis connection `connect()` accepts or `conn.unguarded` holds. */
export type AnyRedis = RedisStandalone | RedisCluster | RedisSentinel
/** The server layouts @cache supports. */
export type Topology = 'standalone' | 'sentinel' | 'cluster'
/** A command argument. */
export type Arg = string | Buffer

/** Detects the topology of a node-redis object by shape (works across copies of the library). */
export function topologyOf(redis: unknown): Topology | undefined {
  if (typeof redis !== 'object' || redis === null) return undefined
  if ('getSlotRandomNode' in redis && 'nodeClient' in redis) return 'cluster'
  if ('getMasterNode' in redis && 'acquire' in redis) return 'sentinel'
  if ('sendCommand' in redis && 'duplicate' in redis) return 'standalone'
  return undefined
}
