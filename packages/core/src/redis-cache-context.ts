import { type Arg, type Connection, isCacheError, type ScriptFn } from '@cache/client'
import { type Codec, type CodecContext, defaultCodec } from './codec.js'
import { DecodeError, EncodeError, ValueTooLargeError } from './errors.js'
import type { CacheKeys } from './keys.js'
import type { Resolved } from './redis-cache-options.js'
import * as lua from './scripts/index.js'
import { StatsRecorder } from './stats.js'

/** The Lua scripts of a RedisCache. */
export interface RedisCacheScripts {
  indexAdd: ScriptFn<number>
  indexPop: ScriptFn<string[]>
  invalidate: ScriptFn<[number, string[]]>
  getWithTtl: ScriptFn<[Buffer | null, number]>
  setVersioned: ScriptFn<number>
  statsAdd: ScriptFn<number>
  mset: ScriptFn<number>
}

/**
 * What every RedisCache operation shares: the connection, key layout, scripts, codec and counters, with the
 * error mapping of encode/decode. The operations (reads, writes, invalidation, versions, shared stats) are
 * functions of this context in files of their own; RedisCache wires them. @internal
 */
export class RedisCacheContext<T> {
  readonly conn: Connection
  readonly keys: CacheKeys
  readonly namespace: string
  readonly options: Readonly<Resolved>
  readonly cluster: boolean
  readonly stats = new StatsRecorder()
  readonly scripts: RedisCacheScripts
  readonly #codec: Codec

  constructor(conn: Connection, keys: CacheKeys, options: Readonly<Resolved>) {
    this.conn = conn
    this.keys = keys
    this.options = options
    this.namespace = options.namespace
    this.cluster = conn.topology === 'cluster'
    this.stats.publishReads = options.publishReads
    this.#codec = options.codec ?? defaultCodec
    this.scripts = {
      indexAdd: conn.defineScript('core:index-add', lua.indexAdd, { keys: 1 }),
      indexPop: conn.defineScript('core:index-pop', lua.indexPop, { keys: 1 }),
      invalidate: conn.defineScript('core:invalidate', lua.invalidate, { keys: 3 }),
      getWithTtl: conn.defineScript('core:get-with-ttl', lua.getWithTtl, { keys: 1, buffers: true }),
      setVersioned: conn.defineScript('core:set-versioned', lua.setVersioned, { keys: 2 }),
      statsAdd: conn.defineScript('core:stats-add', lua.statsAdd, { keys: 1 }),
      // Values and their indexes in one call: one slot on a cluster, any keys on one server.
      mset: conn.defineScript('core:mset', lua.mset, { keys: { multipleOf: 1 }, crossSlot: !this.cluster }),
    }
  }

  /** Counts an error and returns it. */
  fail<E>(err: E): E {
    this.stats.errors++
    return err
  }

  /** One command on the guarded path; failures are counted. */
  async send<R>(args: Arg[], key: string, buffers = false): Promise<R> {
    try {
      return await this.conn.send<R>(args, { key, buffers })
    } catch (err) {
      throw this.fail(err)
    }
  }

  /** The full Redis key for a codec that binds values to it (none for the default codec: nothing to pay). */
  #codecContext(key: string): CodecContext | undefined {
    return this.#codec === defaultCodec ? undefined : { key: this.keys.value(key) }
  }

  decode(key: string, raw: Buffer | null): T | undefined {
    if (raw === null || raw === undefined) return undefined
    try {
      return this.#codec.decode(raw, this.#codecContext(key)) as T
    } catch (err) {
      // Typed codec errors of the family (E_DECRYPT, E_KEY_NOT_FOUND…) keep their code; they carry no value.
      if (isCacheError(err) && err.code !== 'E_DECODE') throw err
      // A custom codec's own message may quote the payload: keep only its error name.
      throw new DecodeError(
        isCacheError(err)
          ? err.message.replace(/^.*?: /, '')
          : `the codec threw ${(err as Error)?.name ?? typeof err}`,
        { key },
      )
    }
  }

  encode(key: string, value: T): Buffer {
    if (value === undefined)
      throw new EncodeError('undefined cannot be cached (a miss reads as undefined)', { key })
    let bytes: Buffer
    try {
      bytes = this.#codec.encode(value, this.#codecContext(key))
    } catch (err) {
      if (isCacheError(err, 'E_ENCODE'))
        throw new EncodeError(err.message.replace(/^.*?: /, ''), { key, cause: err })
      throw new EncodeError(String(err), { key, cause: err })
    }
    if (bytes.length > this.options.maxValueBytes) {
      throw new ValueTooLargeError(key, bytes.length, this.options.maxValueBytes)
    }
    return bytes
  }
}
