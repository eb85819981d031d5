import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { inject } from 'vitest'

export { codeOf } from '@cache/tools'

/** A callback-style store call as a promise. */
export const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))

/** An express-session cookie (JSON form) expiring in `maxAge` ms. */
export const cookie = (maxAge = 60_000) =>
  ({
    originalMaxAge: maxAge,
    expires: new Date(Date.now() + maxAge).toISOString(),
    httpOnly: true,
    path: '/',
  }) as never

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A connection to one of the shared topologies, in a namespace of its own. */
export async function sharedConnection(kind: 'standalone' | 'sentinel' | 'cluster'): Promise<Connection> {
  const { standalone, sentinel, cluster } = inject('redis')
  const namespace = uniquePrefix('session')
  if (kind === 'cluster') return connect({ cluster: { nodes: cluster.nodes }, namespace })
  if (kind === 'sentinel')
    return connect({ sentinel: { name: sentinel.name, sentinels: sentinel.sentinels }, namespace })
  return connect({ url: standalone.url, namespace })
}

/** A browser: fetch with one cookie. */
export function browser(base: string) {
  let cookie = ''
  return {
    get cookie() {
      return cookie
    },
    async go(
      path: string,
    ): Promise<{ status: number; body: Record<string, unknown>; setCookie: string | null }> {
      const res = await fetch(`${base}${path}`, { headers: cookie ? { cookie } : {} })
      const set = res.headers.get('set-cookie')
      if (set) cookie = set.split(';')[0]!
      const text = await res.text()
      return {
        status: res.status,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        setCookie: set,
      }
    },
  }
}
