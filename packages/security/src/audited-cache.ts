import { InvalidArgumentError } from '@cache/client'
import { AuditLog } from './audit-log.js'
import { cacheAudit } from './cache-audit.js'
import { assertClassification, type Classification } from './classification.js'
import { PKG } from './defaults.js'

/** Options of `auditedCache()`. */
export interface AuditedCacheOptions {
  /** Where writes are recorded. */
  audit: AuditLog
  /** The cache's label: `confidential` or `restricted` (checked against the cache's codec). */
  classification: Classification
  /** The namespace, for the entries and the check. */
  namespace: string
  /** The codec the cache was built with: it must encrypt (E_UNENCRYPTED otherwise). */
  codec: unknown
  /** Who writes (this service). */
  actor: string
  /** The data subject a key belongs to, stored as a keyed hash (e.g. `(key) => key.split(':').slice(0, 2).join(':')`). */
  subjectOf?: (key: string) => string | undefined
}

/** Cache methods that change data, and where their key(s) are. */
const WRITES: Record<string, 'key' | 'keys' | 'entries' | 'none'> = {
  set: 'key',
  delete: 'key',
  invalidate: 'key',
  touch: 'key',
  mset: 'entries',
  mdelete: 'keys',
  invalidateTags: 'none',
  deletePattern: 'none',
  clear: 'none',
}

function keysOf(kind: string, arg: unknown): string[] {
  if (kind === 'key' && typeof arg === 'string') return [arg]
  if (kind === 'keys' && Array.isArray(arg)) return arg.filter((k): k is string => typeof k === 'string')
  if (kind === 'entries' && Array.isArray(arg))
    return arg.map((e) => (e as { key?: unknown })?.key).filter((k): k is string => typeof k === 'string')
  return []
}

/**
 * Wraps a cache of a confidential or restricted namespace so that every write (set, mset, delete,
 * invalidate, invalidateTags, deletePattern, clear) is recorded in the audit log as `cache.<method>`
 * with its outcome, the number of keys and the subject as a keyed hash — never the key or the value.
 * Refuses a cache whose codec does not encrypt (E_UNENCRYPTED). Reads pass through untouched.
 *
 * @example
 * const pii = auditedCache(new RedisCache(conn, { namespace: 'pii', codec, classification: 'restricted' }),
 *   { audit, codec, classification: 'restricted', namespace: 'pii', actor: 'profile-service' })
 */
export function auditedCache<C extends object>(cache: C, options: AuditedCacheOptions): C {
  if (!options || !(options.audit instanceof AuditLog))
    throw new InvalidArgumentError(PKG, 'audit', 'must be an AuditLog')
  if (typeof options.actor !== 'string' || options.actor === '')
    throw new InvalidArgumentError(PKG, 'actor', 'must be a non-empty string')
  assertClassification({
    namespace: options.namespace,
    classification: options.classification,
    codec: options.codec,
  })
  const { namespace, classification } = options
  const writes = cacheAudit(options.audit, { actor: options.actor, subjectOf: options.subjectOf })
  const record = (op: string, arg: unknown, outcome: 'ok' | 'error') =>
    writes.write({ namespace, classification, op, keys: keysOf(WRITES[op] as string, arg), outcome })
  return new Proxy(cache, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || !(prop in WRITES) || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value
      return async (...args: unknown[]) => {
        try {
          const result = await value.apply(target, args)
          await record(prop, args[0], 'ok')
          return result
        } catch (err) {
          await record(prop, args[0], 'error').catch(() => {})
          throw err
        }
      }
    },
  })
}
