import { encodeKeyPart, escapeGlob, type KeyBuilder } from '@cache/client'

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

  /** Every value key starts with it (`<ns>:v:{`): the prefix CLIENT TRACKING BCAST watches. */
  get valuePrefix(): string {
    return this.#valuePrefix
  }
  /** The escaped form of a user key (the hash tag's content). */
  part(key: string): string {
    return encodeKeyPart(key)
  }
  value(key: string): string {
    return `${this.#valuePrefix}${encodeKeyPart(key)}}`
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
