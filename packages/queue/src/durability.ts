import { CacheError, hashSlot } from '@cache/client'
import type { Cluster, Redis } from 'ioredis'
import { NotReplicatedError } from './errors.js'
import { toQueueError } from './redis-errors.js'

/** Resolved `durability` of a queue: replicas that must acknowledge an add, and how long to wait. @internal */
export interface ResolvedDurability {
  replicas: number
  timeoutMs: number
}

/**
 * The connection WAIT must go to: the one the queue's writes went through. On a Cluster, the master of the
 * prefix's hash-tag slot (every key of the queue is there); elsewhere the client itself.
 */
function nodeOf(client: Redis | Cluster, prefix: string): Redis {
  if (!client.isCluster) return client as Redis
  const cluster = client as Cluster
  const owner = cluster.slots[hashSlot(`${prefix}:x`)]?.[0]
  const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner)
  if (!node) {
    throw new CacheError(
      'E_UNAVAILABLE',
      `[@cache/queue] no known master for the queue's slot (${owner ?? 'none'})`,
    )
  }
  return node
}

/** Per connection, the WAIT not sent yet, that every add acknowledged before it is sent shares. */
const pending = new WeakMap<Redis, Promise<number>>()

/**
 * One WAIT for every add acknowledged on `node` since the last WAIT was sent. WAIT blocks its connection,
 * so N adds each sending their own would take up to N × timeout behind replicas that do not answer (and
 * pass commandTimeout); a WAIT sent after an add's reply covers that add's write, so they can share one.
 */
function groupWait(node: Redis, d: ResolvedDurability): Promise<number> {
  let p = pending.get(node)
  if (!p) {
    p = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      pending.delete(node)
      return node.call('WAIT', d.replicas, d.timeoutMs).then(Number)
    })
    pending.set(node, p)
  }
  return p
}

/**
 * WAIT for `d.replicas` replicas to acknowledge the writes the queue's connection made so far (the add
 * that just returned among them). @throws NotReplicatedError when fewer did in time. @internal
 */
export async function waitForReplicas(
  client: Redis | Cluster,
  prefix: string,
  d: ResolvedDurability,
  what: string,
  ids: string[],
): Promise<void> {
  let acked: number
  try {
    acked = await groupWait(nodeOf(client, prefix), d)
  } catch (err) {
    throw toQueueError(err, `${what} (WAIT)`)
  }
  if (acked < d.replicas) throw new NotReplicatedError(what, ids, acked, d)
}
