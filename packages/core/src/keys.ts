import { encodeKeyPart, escapeGlob, type KeyBuilder } from '@cache/client'
import { VALUE_KEY_MEMO, VALUE_KEY_MEMO_MAX_LENGTH } from './defaults.js'

/**
 * Every Redis key of a RedisCache. The user key is escaped and wrapped in a hash tag, so an entry's value,
 * history, dependants set and lease share one cluster slot (scripts touching them never cross slots):
 * `<ns>:v:{key}` value, `<ns>:h:{key}` history, `<ns>:d:{key}` dependants, `<ns>:l:{key}` lease,
 * `<ns>:t:{tag}` tag index, `<ns>:stats` shared counters, `<ns>:gos` getOrSet notification channel.
 */
export class CacheKeys {
  readonly prefix: string
  readonly #valuePrefix: string
  /** Value keys of recent user keys, in two generations (the older one is dropped when the newer fills). */
  #recent = new Map<string, string>()
  #older = new Map<string, string>()

  constructor(keys: KeyBuilder) {
    this.prefix = keys.prefix
    this.#valuePrefix = `${this.prefix}v:{`
  }

  /** Every value key starts with it (`<ns>:v:{`): the prefix CLIENT TRACKING BCAST watches. */
  get valuePrefix(): string {
    return this.#valuePrefix
  }
  /** The escaped form of a user key (the hash tag's content). */
  part(key: string): string {
    return encodeKeyPart(key)
  }
  /** The value key of `key` (remembered for recent keys: every read builds one). */
  value(key: string): string {
    let rk = this.#recent.get(key)
    if (rk !== undefined) return rk
    rk = this.#older.get(key) ?? `${this.#valuePrefix}${encodeKeyPart(key)}}`
    if (key.length <= VALUE_KEY_MEMO_MAX_LENGTH) {
      if (this.#recent.size >= VALUE_KEY_MEMO) {
        this.#older = this.#recent
        this.#recent = new Map()
      }
      this.#recent.set(key, rk)
    }
    return rk
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
    return `${this.prefix}t:{${encodeKeyPart(tag)}}`
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
