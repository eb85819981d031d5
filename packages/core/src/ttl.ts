import { type Duration, InvalidOptionError, parseDuration, zDuration } from '@cache/client'
import type { SetOptions } from './cache.js'
import { MAX_TTL_MS, MIN_TTL_MS, PKG } from './defaults.js'

/**
 * Parses a TTL (ms or `'5m'`, `'2h'`, `'30d'`) and checks it is between 1 second and 30 days.
 * @throws InvalidOptionError (E_INVALID_OPTION) naming `field` and the value.
 * @example parseTtl('5m') // 300000
 */
export function parseTtl(value: Duration, field = 'ttl'): number {
  return parseDuration(value, { field, min: MIN_TTL_MS, max: MAX_TTL_MS, pkg: PKG })
}

/** A zod schema for a TTL option (1s–30d), giving milliseconds. */
export function zTtl() {
  return zDuration({ min: MIN_TTL_MS, max: MAX_TTL_MS })
}

/** Checks a cache key: a non-empty string. @throws InvalidOptionError (E_INVALID_OPTION, field `key`). */
export function checkKey(key: unknown, field = 'key'): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidOptionError(
      PKG,
      field,
      `must be a non-empty string, got ${typeof key === 'string' ? '""' : typeof key}`,
    )
  }
  return key
}

/** Checks a list of tags or keys: strings, each non-empty. */
export function checkList(list: unknown, field: string): readonly string[] {
  if (!Array.isArray(list)) throw new InvalidOptionError(PKG, field, `must be an array of strings`)
  for (let i = 0; i < list.length; i++) checkKey(list[i], `${field}.${i}`)
  return list as string[]
}

/** Checks every per-call set option (ttl, tags, dependsOn, keepVersions) before any work is done. */
export function checkSetOptions(options: SetOptions | undefined): void {
  if (options === undefined) return
  if (options.ttl !== undefined) parseTtl(options.ttl)
  if (options.tags !== undefined) checkList(options.tags, 'tags')
  if (options.dependsOn !== undefined) checkList(options.dependsOn, 'dependsOn')
  const keep = options.keepVersions
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 0 && keep <= 1000)) {
    throw new InvalidOptionError(
      PKG,
      'keepVersions',
      `must be an integer from 0 to 1000, got ${String(keep)}`,
    )
  }
}
