import type { Connection } from '@cache/client'
import { Cluster, Redis } from 'ioredis'

/**
 * A new ioredis connection for BullMQ, to the deployment of `conn`. On Sentinel, `conn.bullmq()` already
 * carries the failover settings (`failoverDetector`, reconnect on READONLY) that keep the queue's writes
 * off a demoted master. @internal
 */
export function ioredisConnection(conn: Connection): Redis | Cluster {
  const o = conn.bullmq()
  if (o.kind === 'cluster') return new Cluster(o.startupNodes, o.options)
  return new Redis(o.options)
}
