import type { Connection } from '@cache/client'
import { Cluster, Redis, type RedisOptions } from 'ioredis'

/** A node that was master and is now a replica answers writes with this. */
const READONLY = /^READONLY\b/

/**
 * Sentinel settings of the queue's ioredis connections: after a failover, a connection must leave the old
 * master at once. Sentinel demotes the old master only when its next INFO poll finds it still claiming the
 * role (up to 10 s after the promotion); until then the old master takes every write of the clients still
 * connected to it, and throws them away when it resyncs from the new one. Measured on the harness's
 * Sentinel (SENTINEL FAILOVER, a job added every 30 ms): 263 adds (8 s of them) went to the old master and
 * their ids were handed out again by the new one, which the chaos suite counted as duplicate runs.
 * - `failoverDetector`: subscribe to the sentinels' `+switch-master` and reconnect (to the master they
 *   name) as soon as it is announced.
 * - `reconnectOnError` on READONLY: a connection that finds itself on a demoted node reconnects and resends
 *   the command (refused, so not run).
 */
export const SENTINEL_FAILOVER_OPTIONS: Partial<RedisOptions> = Object.freeze({
  failoverDetector: true,
  reconnectOnError: (err: Error) => (READONLY.test(err.message) ? 2 : false),
})

/** A new ioredis connection for BullMQ, to the deployment of `conn`. @internal */
export function ioredisConnection(conn: Connection): Redis | Cluster {
  const o = conn.bullmq()
  if (o.kind === 'cluster') return new Cluster(o.startupNodes, o.options)
  if (o.kind === 'sentinel') return new Redis({ ...o.options, ...SENTINEL_FAILOVER_OPTIONS })
  return new Redis(o.options)
}
