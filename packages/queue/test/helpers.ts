import { type Connection, connect } from '@cache/client'
import { inject } from 'vitest'

export type Kind = 'standalone' | 'cluster' | 'sentinel'

/** A connection to one of the shared topologies. */
export function connectTo(kind: Kind, namespace: string): Promise<Connection> {
  const { standalone, cluster, sentinel } = inject('redis')
  if (kind === 'cluster') return connect({ cluster: { nodes: cluster.nodes }, namespace })
  if (kind === 'sentinel')
    return connect({ sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, namespace })
  return connect({ url: standalone.url, namespace })
}

/** Polls until `check` is truthy (or fails after `timeoutMs`). */
export async function until<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v as NonNullable<T>
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
