import { type Connection, type ConnectOptions, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { inject } from 'vitest'

/** The shared topologies these tests run on (never flushed or killed: isolated by namespace). */
export type Kind = 'standalone' | 'cluster' | 'sentinel'

/** Connect options for a shared topology. */
export function optionsFor(kind: Kind): ConnectOptions {
  const { standalone, sentinel, cluster } = inject('redis')
  if (kind === 'cluster') return { cluster: { nodes: cluster.nodes } }
  if (kind === 'sentinel') return { sentinel: { name: sentinel.name, sentinels: sentinel.sentinels } }
  return { url: standalone.url }
}

/** A fresh Connection under a unique namespace. */
export function connectTo(kind: Kind, extra: ConnectOptions = {}): Promise<Connection> {
  return connect({ ...optionsFor(kind), namespace: uniquePrefix('events'), commandTimeout: 2000, ...extra })
}

/** Resolves when `check()` returns true, polling every 10 ms, or throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A promise with its resolve function. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
