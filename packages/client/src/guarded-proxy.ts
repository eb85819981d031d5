import type { CommandPath } from './command-path.js'
import { directSender } from './direct-command.js'
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
 * own, bound to it. Wrapped methods are built once per name. On a standalone client a command's wrapper
 * sends node-redis's own parsing of it straight to `sendCommand` where it can (`directSender`).
 *
 * The object handed out is a plain object whose prototype is the Proxy: a command's wrapper is stored on it
 * as an own property on first use, so every later `redis.get(…)` is an ordinary (inline-cached) property
 * load instead of a Proxy trap per command. Anything not stored there (state such as `isReady`, bound
 * helpers, symbols) still reaches the trap and is read from the client each time; writes reach the client.
 */
export function guardedProxy(target: AnyRedis, path: CommandPath, standalone: boolean): AnyRedis {
  const proxy = new Proxy(target, {
    get: (obj, prop) => {
      const value = Reflect.get(obj, prop, obj) as unknown
      if (typeof value !== 'function') return value
      if (typeof prop !== 'string' || NOT_WRAPPED.has(prop) || prop.startsWith('_')) return value.bind(obj)
      const name = prop.toUpperCase()
      const method =
        (standalone && directSender(obj, prop)) || (value as (...a: unknown[]) => Promise<unknown>)
      const wrapped = (...args: unknown[]) => path.call(name, obj, method, args)
      Object.defineProperty(front, prop, { value: wrapped, writable: true, configurable: true })
      return wrapped
    },
    set: (obj, prop, value) => Reflect.set(obj, prop, value),
  })
  const front = Object.create(proxy) as AnyRedis
  return front
}
