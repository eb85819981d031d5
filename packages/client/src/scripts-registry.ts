import { createHash } from 'node:crypto'
import { isNoScript } from './error-mapping.js'
import { CacheError } from './errors.js'
import { hashSlot } from './keys.js'
import { TAG } from './pkg.js'
import type { Arg } from './types.js'

/** Options of `conn.defineScript()`. */
export interface ScriptOptions {
  /**
   * How many KEYS the script takes; calls with another count are rejected. `{ multipleOf: n }`: any non-zero
   * multiple of n, for a script that takes a batch of requests of n keys each (one name, one sha, whatever the
   * batch size, so instrumentation sees one command).
   */
  keys: number | { multipleOf: number }
  /** Bulk strings come back as Buffers. @default false */
  buffers?: boolean
  /** Allow keys in different cluster slots (standalone-only scripts). @default false */
  crossSlot?: boolean
}

/** A loaded Lua script: `(keys, args) => reply`. */
export type ScriptFn<T = unknown> = ((
  keys: ReadonlyArray<string>,
  args?: ReadonlyArray<Arg | number>,
) => Promise<T>) & {
  readonly scriptName: string
  readonly sha: string
}

/** The `{tag}` of a key as Redis Cluster reads it (first `{`, then the next `}`, non-empty), or undefined. */
function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{')
  if (open < 0) return undefined
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : undefined
}

/** True when every key has the same hash tag: same slot, no CRC needed (the common case of our scripts). */
function sameHashTag(keys: ReadonlyArray<string>): boolean {
  const tag = hashTagOf(keys[0]!)
  if (tag === undefined) return false
  for (let i = 1; i < keys.length; i++) if (hashTagOf(keys[i]!) !== tag) return false
  return true
}

function keyCountOk(want: ScriptOptions['keys'], got: number): boolean {
  return typeof want === 'number' ? got === want : got > 0 && got % want.multipleOf === 0
}

function describeKeys(want: ScriptOptions['keys']): string {
  return typeof want === 'number' ? String(want) : `a non-zero multiple of ${want.multipleOf}`
}

/** How a script reaches the server: one command on the guarded path. */
export type ScriptSender = <T>(
  args: Arg[],
  options: { key: Arg | undefined; buffers: boolean; name: string },
) => Promise<T>

/**
 * The Lua scripts of one connection, by name: EVALSHA with an EVAL fallback on NOSCRIPT (after a restart,
 * failover or SCRIPT FLUSH); key count and cluster slot checked before sending, on every topology, so code
 * that works on one server also works on a cluster.
 */
export class ScriptRegistry {
  readonly #scripts = new Map<string, ScriptFn<any>>()
  readonly #send: ScriptSender

  constructor(send: ScriptSender) {
    this.#send = send
  }

  define<T = unknown>(name: string, lua: string, options: ScriptOptions): ScriptFn<T> {
    const existing = this.#scripts.get(name)
    const sha = createHash('sha1').update(lua).digest('hex')
    if (existing) {
      if (existing.sha !== sha) {
        throw new CacheError(
          'E_INVALID_OPTION',
          `${TAG} script "${name}" is already defined with other source`,
          {
            details: { field: 'name' },
          },
        )
      }
      return existing as ScriptFn<T>
    }
    const command = `EVALSHA ${name}`
    const send = this.#send
    const fn = async (keys: ReadonlyArray<string>, args: ReadonlyArray<Arg | number> = []): Promise<T> => {
      if (!keyCountOk(options.keys, keys.length)) {
        throw new CacheError(
          'E_INVALID_ARGUMENT',
          `${TAG} script "${name}" takes ${describeKeys(options.keys)} keys, got ${keys.length}`,
        )
      }
      if (!options.crossSlot && keys.length > 1 && !sameHashTag(keys)) {
        const slot = hashSlot(keys[0]!)
        if (keys.some((k) => hashSlot(k) !== slot)) {
          throw new CacheError(
            'E_CROSSSLOT',
            `${TAG} script "${name}": keys map to different cluster slots; use {hash tags}`,
            { details: { script: name } },
          )
        }
      }
      const head: Arg[] = ['EVALSHA', sha, String(keys.length)]
      for (const k of keys) head.push(k)
      for (const a of args) head.push(typeof a === 'number' ? String(a) : a)
      const sendOptions = { key: keys[0], buffers: options.buffers ?? false, name: command }
      try {
        return await send<T>(head, sendOptions)
      } catch (err) {
        if (isNoScript(err)) {
          head[0] = 'EVAL'
          head[1] = lua
          return send<T>(head, sendOptions)
        }
        throw err
      }
    }
    const script = Object.assign(fn, { scriptName: name, sha }) as ScriptFn<T>
    this.#scripts.set(name, script)
    return script
  }
}
