import { CacheError, isCacheError, withDeadline } from '@cache/client'
import type { Cluster, Redis } from 'ioredis'
import { toQueueError } from './redis-errors.js'

/** Bounds one producer call: `call(promise, what)` settles like `promise` or fails E_UNAVAILABLE. @internal */
export type ProducerDeadline = <T>(promise: Promise<T>, what: string) => Promise<T>

/**
 * The deadline of a producer's calls on `client`. ioredis' `commandTimeout` covers a command once it is
 * sent or queued by a `Redis` connection, but not everything before and around it:
 * - BullMQ waits for the connection's first `ready` before it sends anything, with no limit: a queue made
 *   while Redis is down would wait for ever, so a call on a connection that is not ready gets a deadline;
 * - a `Cluster` queues the commands it gets while no node is reachable in an offline queue of its own,
 *   which ioredis does not time out (the per-node timeout starts only once a node takes the command), so
 *   every call on a Cluster gets one.
 * A ready `Redis` connection needs no timer of its own.
 */
export function producerDeadline(client: Redis | Cluster, ms: number): ProducerDeadline {
  const bounded: ProducerDeadline = (promise, what) =>
    withDeadline(promise, ms, what).catch((err: unknown) => {
      if (!isCacheError(err, 'E_TIMEOUT')) throw err
      throw new CacheError(
        'E_UNAVAILABLE',
        `[@cache/queue] ${what}: Redis unavailable (no reply within ${ms}ms)`,
        {
          cause: err,
        },
      )
    })
  if (client.isCluster) return bounded
  return (promise, what) => (client.status === 'ready' ? promise : bounded(promise, what))
}

/**
 * `deadline(promise, what)` with its failure typed by `toQueueError`: a Redis that is down, paused or not
 * ready is E_UNAVAILABLE, any other Redis reply E_COMMAND. The guarded path of a producer-side BullMQ call
 * (stats, the dead-letter queue's calls). @internal
 */
export function guarded<T>(deadline: ProducerDeadline, promise: Promise<T>, what: string): Promise<T> {
  return deadline(promise, what).catch((err: unknown) => {
    throw toQueueError(err, what)
  })
}
