import { CacheError, isCacheError, withDeadline } from '@cache/client'
import type { Cluster, Redis } from 'ioredis'

/** Bounds one producer call: `call(promise, what)` settles like `promise` or fails E_UNAVAILABLE. @internal */
export type ProducerDeadline = <T>(promise: Promise<T>, what: string) => Promise<T>

const unbounded: ProducerDeadline = (promise) => promise

/**
 * The deadline of a producer's calls on `client`. A `Redis` connection needs none: its own `commandTimeout`
 * fails commands, queued ones included. A `Cluster` queues the commands it gets while no node is reachable
 * in an offline queue of its own, which ioredis does not time out (the per-node timeout starts only once a
 * node takes the command): with every node down an add would wait for ever, so the call gets a deadline.
 */
export function producerDeadline(client: Redis | Cluster, ms: number): ProducerDeadline {
  if (!client.isCluster) return unbounded
  return (promise, what) =>
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
}
