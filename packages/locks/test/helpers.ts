import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { inject } from 'vitest'

export { codeOf } from '@cache/tools'

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A connection to one of the shared topologies, in a namespace of its own. */
export async function sharedConnection(
  kind: 'standalone' | 'sentinel' | 'cluster',
  options: { resp?: 2 | 3; namespace?: string } = {},
): Promise<Connection> {
  const { standalone, sentinel, cluster } = inject('redis')
  const namespace = options.namespace ?? uniquePrefix('locks')
  if (kind === 'cluster') return connect({ cluster: { nodes: cluster.nodes }, namespace })
  if (kind === 'sentinel')
    return connect({ sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, namespace })
  return connect({ url: standalone.url, namespace, ...(options.resp ? { resp: options.resp } : {}) })
}
