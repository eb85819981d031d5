import { type Connection, connect, isCacheError } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { inject } from 'vitest'

/** The error code a promise rejects with ('ok' when it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return isCacheError(err) ? err.code : `non-cache:${String(err)}`
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A connection to one of the shared topologies, in a namespace of its own. */
export async function sharedConnection(kind: 'standalone' | 'sentinel' | 'cluster'): Promise<Connection> {
  const { standalone, sentinel, cluster } = inject('redis')
  const namespace = uniquePrefix('locks')
  if (kind === 'cluster') return connect({ cluster: { nodes: cluster.nodes }, namespace })
  if (kind === 'sentinel')
    return connect({ sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, namespace })
  return connect({ url: standalone.url, namespace })
}
