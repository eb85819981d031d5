import type { Connection } from '@cache/client'
import { Cluster, Redis } from 'ioredis'

/**
 * A new ioredis connection for BullMQ, to the deployment of `conn`. On Sentinel, `conn.bullmq()` already
 * carries the failover settings (`failoverDetector`, reconnect on READONLY) that keep the queue's writes
 * off a demoted master. `commandTimeoutMs` (producers only: BullMQ's workers block on their connection)
 * fails a command that got no reply in time, queued while disconnected included. @internal
 */
export function ioredisConnection(conn: Connection, commandTimeoutMs?: number): Redis | Cluster {
  const o = conn.bullmq()
  if (o.kind === 'cluster') {
    if (commandTimeoutMs === undefined) return new Cluster(o.startupNodes, o.options)
    return new Cluster(o.startupNodes, {
      ...o.options,
      redisOptions: { ...o.options.redisOptions, commandTimeout: commandTimeoutMs },
    })
  }
  return new Redis(
    commandTimeoutMs === undefined ? o.options : { ...o.options, commandTimeout: commandTimeoutMs },
  )
}
