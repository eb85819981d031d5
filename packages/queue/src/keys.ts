import type { Connection, KeyBuilder } from '@cache/client'
import { DLQ_SUFFIX } from './defaults.js'

/**
 * Every Redis key of @cache/queue is built here. BullMQ builds its own keys under a prefix: on a Cluster
 * the prefix carries a hash tag of the queue name, so every key of one queue is in one slot (BullMQ's Lua
 * scripts need that); the dead-letter queue has its own tag.
 */
export class QueueKeys {
  readonly #base: KeyBuilder
  readonly #cluster: boolean
  readonly #namespace: string

  constructor(conn: Connection, namespace: string) {
    this.#namespace = namespace
    this.#base = conn.keys.child(namespace)
    this.#cluster = conn.topology === 'cluster'
  }

  /** The BullMQ prefix of queue `name` (`ns:queue` or, on Cluster, `ns:queue:{name}`). */
  prefix(name: string): string {
    return this.#cluster ? this.#base.tagged(name) : this.#base.namespace
  }

  /** The counter of jobs tenant `tenant` added to queue `name` in the current fairness window. */
  tenantSeq(name: string, tenant: string): string {
    return this.#base.key('tenant-seq', name, tenant)
  }

  /** The dead-letter queue's BullMQ name. */
  deadLetterName(name: string): string {
    return `${name}${DLQ_SUFFIX}`
  }

  /**
   * Where the per-tenant limiters of queue `name` keep their keys: @cache/ratelimit's `namespace` (the
   * queue's) and limiter `name` (`<queue>.rate` / `<queue>.inflight`).
   */
  tenantLimiter(name: string, kind: 'rate' | 'inflight'): { namespace: string; name: string } {
    return { namespace: this.#namespace, name: `${name}.${kind}` }
  }
}
