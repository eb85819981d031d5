import type { CommandPath } from './command-path.js'
import type { AnyRedis } from './types.js'

/** node-redis members that are not single commands: passed through unwrapped (bound to the client). */
const NOT_WRAPPED = new Set([
  'multi',
  'MULTI',
  'duplicate',
  'connect',
  'close',
  'destroy',
  'quit',
  'QUIT',
  'disconnect',
  'ref',
  'unref',
  'nodeClient',
  'getMasters',
  'getSlotRandomNode',
  'getMasterNode',
  'getReplicaNodes',
  'acquire',
  'use',
  'withCommandOptions',
  'withTypeMapping',
  'withAbortSignal',
  'asap',
  'scanIterator',
  'hScanIterator',
  'sScanIterator',
  'zScanIterator',
  'subscribe',
  'SUBSCRIBE',
  'unsubscribe',
  'UNSUBSCRIBE',
  'pSubscribe',
  'PSUBSCRIBE',
  'pUnsubscribe',
  'PUNSUBSCRIBE',
  'sSubscribe',
  'SSUBSCRIBE',
  'sUnsubscribe',
  'SUNSUBSCRIBE',
  'executeIsolated',
  'createPool',
  'getSentinelNode',
  'setTracking',
  'on',
  'once',
  'off',
  'emit',
  'addListener',
  'removeListener',
  'removeAllListeners',
  'listeners',
  'listenerCount',
  'eventNames',
  'prependListener',
  'prependOnceListener',
  'getMaxListeners',
  'setMaxListeners',
  'rawListeners',
])

/**
 * The node-redis client seen through the guarded path: every command method runs on `path` (breaker,
 * round-trip timeout, typed errors, diagnostics); everything else (multi, duplicate, events…) is the client's
 * own, bound to it. Wrapped methods are built once per name.
 */
export function guardedProxy(target: AnyRedis, path: CommandPath): AnyRedis {
  const cache = new Map<string, (...args: unknown[]) => unknown>()
  return new Proxy(target, {
    get: (obj, prop) => {
      if (typeof prop === 'string') {
        const hit = cache.get(prop)
        if (hit) return hit
      }
      const value = Reflect.get(obj, prop, obj) as unknown
      if (typeof value !== 'function') return value
      if (typeof prop !== 'string' || NOT_WRAPPED.has(prop) || prop.startsWith('_')) return value.bind(obj)
      const name = prop.toUpperCase()
      const method = value as (...a: unknown[]) => Promise<unknown>
      const wrapped = (...args: unknown[]) => path.call(name, obj, method, args)
      cache.set(prop, wrapped)
      return wrapped
    },
  })
}
