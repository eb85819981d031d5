import diagnostics from 'node:diagnostics_channel'
import { type Connection, InvalidArgumentError } from '@cache/client'
import { PKG } from './defaults.js'
import type { EncryptionCodec } from './encryption-codec.js'
import { rewrapSwap } from './scripts/index.js'

/** Progress of `rewrap()`, also its result. */
export interface RewrapProgress {
  /** Keys looked at. */
  scanned: number
  /** Values re-encrypted under the primary key. */
  rewrapped: number
  /** Values already under the primary, not encrypted, or changed meanwhile (left alone). */
  skipped: number
  /** Values that could not be decrypted (E_DECRYPT, E_KEY_NOT_FOUND, E_KEY_DISABLED): left as they are. */
  failed: number
  /** Pass it back as `cursor` to resume; `'done'` at the end. */
  cursor: string
}

/** Options of `rewrap()`. */
export interface RewrapOptions {
  /** The RedisCache (or any object with `redisKey()`) whose values to rewrap; or give `match`. */
  cache?: { redisKey(key: string): string }
  /** Glob of the full Redis keys to rewrap (string values only), when not a `cache`. */
  match?: string
  /** A cursor of a previous (interrupted) run's progress. */
  cursor?: string
  /** SCAN COUNT hint. @default 200 */
  count?: number
  /** Called after every SCAN batch. */
  onProgress?: (progress: Readonly<RewrapProgress>) => void
  /** Stops between batches; the last progress carries the cursor to resume from. */
  signal?: AbortSignal
}

/** diagnostics_channel `cache:security:rewrap`: the progress after each batch. */
export const rewrapChannel = diagnostics.channel('cache:security:rewrap')

function parseCursor(cursor: string | undefined): [number, string] {
  if (cursor === undefined) return [0, '0']
  const m = /^(\d+):(\d+)$/.exec(cursor)
  if (!m) throw new InvalidArgumentError(PKG, 'cursor', 'must be a cursor returned by rewrap()')
  return [Number(m[1]), m[2]!]
}

/**
 * Re-encrypts every value matching `match` under the keyring's primary key, on every master (SCAN, never
 * KEYS), so that a retired key can be disabled and destroyed. Each value is swapped only if unchanged since it
 * was read (Lua compare-and-swap, TTL kept). Resumable: pass the last progress's `cursor`.
 *
 * @example
 * await rewrap(conn, codec, { match: cache.redisKey('*'), onProgress: (p) => console.log(p) })
 */
export async function rewrap(
  conn: Connection,
  codec: EncryptionCodec,
  options: RewrapOptions,
): Promise<RewrapProgress> {
  const match = options?.cache ? cacheValuePattern(options.cache) : options?.match
  if (typeof match !== 'string' || match === '')
    throw new InvalidArgumentError(PKG, 'match', 'must be a non-empty glob')
  const swap = conn.defineScript<number>('security-rewrap-swap', rewrapSwap, { keys: 1 })
  const primary = codec.keyring.primaryId
  let [nodeIndex, cursor] = parseCursor(options.cursor)
  const progress: RewrapProgress = { scanned: 0, rewrapped: 0, skipped: 0, failed: 0, cursor: '' }
  const masters = await conn.masters()
  for (; nodeIndex < masters.length; nodeIndex++, cursor = '0') {
    const node = masters[nodeIndex]!
    do {
      if (options.signal?.aborted) {
        progress.cursor = `${nodeIndex}:${cursor}`
        return progress
      }
      const reply = await node.send<[string, string[]]>([
        'SCAN',
        cursor,
        'MATCH',
        match,
        'COUNT',
        String(options.count ?? 200),
        'TYPE',
        'string',
      ])
      cursor = String(reply[0])
      for (const key of reply[1]) {
        progress.scanned++
        const bytes = await conn.send<Buffer | null>(['GET', key], { key, buffers: true })
        const keyId = bytes ? codec.keyIdOf(bytes) : undefined
        if (!bytes || keyId === undefined || keyId === primary) {
          progress.skipped++
          continue
        }
        let fresh: Buffer
        try {
          fresh = codec.encode(codec.decode(bytes, { key }), { key })
        } catch {
          progress.failed++
          continue
        }
        if ((await swap([key], [bytes, fresh])) === 1) progress.rewrapped++
        else progress.skipped++
      }
      progress.cursor =
        cursor === '0'
          ? nodeIndex + 1 < masters.length
            ? `${nodeIndex + 1}:0`
            : 'done'
          : `${nodeIndex}:${cursor}`
      rewrapChannel.publish({ ...progress })
      options.onProgress?.({ ...progress })
    } while (cursor !== '0')
  }
  progress.cursor = 'done'
  return progress
}

/** The SCAN glob of every value key of a RedisCache (`<namespace>:v:{*`). */
export function cacheValuePattern(cache: { redisKey(key: string): string }): string {
  const sample = cache.redisKey('x')
  if (!sample.endsWith('x}')) throw new InvalidArgumentError(PKG, 'cache', 'has an unknown key layout')
  return `${sample.slice(0, -2)}*`
}
