import { encodeKeyPart, escapeGlob, type KeyBuilder, MAX_KEY_PART_LENGTH } from '@cache/client'

const SAFE = /^[A-Za-z0-9._\-@/=+,;!$&()']*$/
const UNSAFE = /[^A-Za-z0-9._\-@/=+,;!$&()']/gu
const escaped = new Map<string, string>()

function escapeChar(ch: string): string {
  let out = escaped.get(ch)
  if (out === undefined) {
    out = ''
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    if (escaped.size < 4096) escaped.set(ch, out)
  }
  return out
}

const ASCII_SAFE = new Uint8Array(128)
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@/=+,;!$&()'") {
  ASCII_SAFE[ch.charCodeAt(0)] = 1
}
const HEX = '0123456789ABCDEF'

/**
 * The same result as `encodeKeyPart` from @cache/client (percent-encoding of unsafe characters, long parts
 * hashed), computed in one pass over ASCII keys (it runs on every read); non-ASCII keys take a regex path.
 */
export function escapePart(key: string): string {
  if (SAFE.test(key)) return key.length > MAX_KEY_PART_LENGTH ? encodeKeyPart(key) : key
  let out = ''
  let last = 0
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 128) {
      if (ASCII_SAFE[c] === 1) continue
      out += `${key.slice(last, i)}%${HEX[c >> 4]}${HEX[c & 15]}`
      last = i + 1
    } else {
      out = key.replace(UNSAFE, escapeChar)
      return out.length > MAX_KEY_PART_LENGTH ? encodeKeyPart(key) : out
    }
  }
  out = last === 0 ? key : out + key.slice(last)
  return out.length > MAX_KEY_PART_LENGTH ? encodeKeyPart(key) : out
}

/**
 * Every Redis key of a RedisCache. The user key is escaped and wrapped in a hash tag, so an entry's value,
 * history, dependants set and lease share one cluster slot (scripts touching them never cross slots):
 * `<ns>:v:{key}` value, `<ns>:h:{key}` history, `<ns>:d:{key}` dependants, `<ns>:l:{key}` lease,
 * `<ns>:t:{tag}` tag index, `<ns>:stats` shared counters, `<ns>:gos` getOrSet notification channel.
 */
export class CacheKeys {
  readonly prefix: string
  readonly #valuePrefix: string

  constructor(keys: KeyBuilder) {
    this.prefix = keys.prefix
    this.#valuePrefix = `${this.prefix}v:{`
  }

  /** The escaped form of a user key (the hash tag's content). */
  part(key: string): string {
    return escapePart(key)
  }
  value(key: string): string {
    return `${this.#valuePrefix}${escapePart(key)}}`
  }
  valueOf(part: string): string {
    return `${this.#valuePrefix}${part}}`
  }
  history(part: string): string {
    return `${this.prefix}h:{${part}}`
  }
  dependants(part: string): string {
    return `${this.prefix}d:{${part}}`
  }
  lease(part: string): string {
    return `${this.prefix}l:{${part}}`
  }
  tag(tag: string): string {
    return `${this.prefix}t:{${escapePart(tag)}}`
  }
  get stats(): string {
    return `${this.prefix}stats`
  }
  get channel(): string {
    return `${this.prefix}gos`
  }
  /** The escaped key part of a value key, or undefined when it is not one of ours. */
  partOf(valueKey: string): string | undefined {
    if (!valueKey.startsWith(this.#valuePrefix) || !valueKey.endsWith('}')) return undefined
    return valueKey.slice(this.#valuePrefix.length, -1)
  }
  /** SCAN MATCH for value keys whose escaped part matches `redisGlob`. */
  valuePattern(redisGlob: string): string {
    return `${escapeGlob(this.#valuePrefix)}${redisGlob}}`
  }
  /** SCAN MATCH for every key of the cache. */
  get all(): string {
    return `${escapeGlob(this.prefix)}*`
  }
}
