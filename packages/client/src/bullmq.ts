import type { NodeAddress, ResolvedConfig } from './config.js'

/** Connection options in ioredis's shape, for BullMQ. */
export type IoRedisOptions =
  | {
      kind: 'standalone' | 'sentinel'
      options: Record<string, unknown>
    }
  | {
      kind: 'cluster'
      startupNodes: NodeAddress[]
      options: { redisOptions: Record<string, unknown>; enableReadyCheck: boolean; [k: string]: unknown }
    }

/**
 * Connection settings in ioredis's shape, so BullMQ (which uses ioredis) reaches the same server with the
 * same credentials and TLS. `maxRetriesPerRequest: null` is set, as BullMQ workers require.
 */
export function ioRedisOptions(c: ResolvedConfig): IoRedisOptions {
  const common: Record<string, unknown> = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: c.connectTimeoutMs,
  }
  if (c.username) common.username = c.username
  if (c.password) common.password = c.password
  if (c.tls) common.tls = { ...c.tls }
  if (c.topology === 'cluster') {
    return {
      kind: 'cluster',
      startupNodes: c.nodes.map((n) => ({ ...n })),
      options: { redisOptions: common, enableReadyCheck: true },
    }
  }
  if (c.topology === 'sentinel' && c.sentinel) {
    const options: Record<string, unknown> = {
      ...common,
      db: c.db,
      name: c.sentinel.name,
      sentinels: c.sentinel.sentinels.map((n) => ({ ...n })),
    }
    if (c.sentinel.username) options.sentinelUsername = c.sentinel.username
    if (c.sentinel.password) options.sentinelPassword = c.sentinel.password
    return { kind: 'sentinel', options }
  }
  return { kind: 'standalone', options: { ...common, host: c.host, port: c.port, db: c.db } }
}
