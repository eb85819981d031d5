import type { NodeAddress, ResolvedConfig } from './config.js'

/** A node that was master and is now a replica answers writes with this. */
const READONLY = /^READONLY\b/

/**
 * Sentinel settings of ioredis connections: after a failover, a connection must leave the old master at
 * once. Sentinel demotes the old master only when its next INFO poll finds it still claiming the role (up
 * to 10 s after the promotion); until then the old master takes every write of the clients still connected
 * to it, and throws them away when it resyncs from the new one. Measured on the harness's Sentinel
 * (SENTINEL FAILOVER, a BullMQ job added every 30 ms): 263 adds (8 s of them) went to the old master.
 * - `failoverDetector`: subscribe to the sentinels' `+switch-master` and reconnect (to the master they
 *   name) as soon as it is announced.
 * - `reconnectOnError` on READONLY: a connection that finds itself on a demoted node reconnects and resends
 *   the command (refused, so not run).
 */
function sentinelFailoverOptions(): Record<string, unknown> {
  return {
    failoverDetector: true,
    reconnectOnError: (err: Error) => (READONLY.test(err.message) ? 2 : false),
  }
}

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
 * same credentials and TLS. `maxRetriesPerRequest: null` is set, as BullMQ workers require; on Sentinel the
 * connection follows a failover at once (`failoverDetector`, reconnect on READONLY).
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
      ...sentinelFailoverOptions(),
    }
    if (c.sentinel.username) options.sentinelUsername = c.sentinel.username
    if (c.sentinel.password) options.sentinelPassword = c.sentinel.password
    return { kind: 'sentinel', options }
  }
  return { kind: 'standalone', options: { ...common, host: c.host, port: c.port, db: c.db } }
}
