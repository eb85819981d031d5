import { InvalidArgumentError } from '@cache/client'
import { AuditLog } from './audit-log.js'
import type { Classification } from './classification.js'
import { PKG } from './defaults.js'

/** One write of a classified cache: what a cache reports to its write audit after the operation. */
export interface CacheWriteEvent {
  /** The cache's namespace. */
  readonly namespace: string
  /** The cache's label. */
  readonly classification: Classification
  /** The cache method: set, mset, delete, mdelete, invalidate, touch, invalidateTags, deletePattern, clear. */
  readonly op: string
  /** The keys written or deleted (empty for tag, pattern and clear operations). */
  readonly keys: readonly string[]
  /** Whether the operation succeeded. */
  readonly outcome: 'ok' | 'error'
}

/** Receives the writes of a classified cache (`cacheAudit()` records them in an AuditLog). */
export interface CacheWriteAudit {
  /** Records one write; resolves once it is stored. */
  write(event: CacheWriteEvent): Promise<void>
}

/** Options of `cacheAudit()`. */
export interface CacheAuditOptions {
  /** Who writes (this service). */
  actor: string
  /** The data subject a key belongs to, stored as a keyed hash (e.g. `(key) => key.split(':').slice(0, 2).join(':')`). */
  subjectOf?: (key: string) => string | undefined
}

/**
 * The write audit of classified caches over an AuditLog: each write becomes `cache.<op>` with its outcome,
 * namespace, label and number of keys, once per data subject (as a keyed hash) — never a key or a value.
 * `auditedCache()` feeds it from a wrapped cache.
 *
 * @example
 * const writes = cacheAudit(audit, { actor: 'profile-service', subjectOf: (k) => k.split(':').slice(0, 2).join(':') })
 */
export function cacheAudit(audit: AuditLog, options: CacheAuditOptions): CacheWriteAudit {
  if (!(audit instanceof AuditLog)) throw new InvalidArgumentError(PKG, 'audit', 'must be an AuditLog')
  if (typeof options?.actor !== 'string' || options.actor === '')
    throw new InvalidArgumentError(PKG, 'actor', 'must be a non-empty string')
  if (options.subjectOf !== undefined && typeof options.subjectOf !== 'function')
    throw new InvalidArgumentError(PKG, 'subjectOf', 'must be a function')
  const { actor, subjectOf } = options
  return Object.freeze({
    async write(event: CacheWriteEvent): Promise<void> {
      const action = `cache.${event.op}`
      // `keyCount`, not `keys`: redact() blanks any detail named like key material.
      const details = {
        namespace: event.namespace,
        classification: event.classification,
        keyCount: event.keys.length,
      }
      const subjects = new Set<string>()
      if (subjectOf)
        for (const k of event.keys) {
          const s = subjectOf(k)
          if (s) subjects.add(s)
        }
      if (subjects.size === 0) await audit.record({ actor, action, outcome: event.outcome, details })
      for (const subject of subjects)
        await audit.record({ actor, action, subject, outcome: event.outcome, details })
    },
  })
}
