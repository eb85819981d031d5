import { channel } from 'node:diagnostics_channel'
import { type Connection, InvalidArgumentError } from '@cache/client'
import type { AuditLog } from './audit-log.js'
import { PKG } from './defaults.js'
import { SubjectIndex } from './subject-index.js'

/** A cache whose entries of the subject are found by pattern or by key (any @cache/core Cache). */
export interface EraseCacheTarget {
  cache: { delete(key: string): Promise<boolean>; deletePattern(glob: string): Promise<number> }
  /** Cache keys (not Redis keys) of the subject. */
  keys?: string[]
  /** Globs of the subject's cache keys, e.g. `user:42:*` (SCAN on every master, inside the cache's namespace). */
  patterns?: string[]
}

/** A session store and the user whose sessions go (a @cache/session SessionManager). */
export interface EraseSessionTarget {
  sessions: { revokeUser(tenant: string, userId: string): Promise<number> }
  tenant: string
  userId: string
}

/** Options of `eraseSubject()`. */
export interface EraseSubjectOptions {
  /** Indexes listing the subject's Redis keys: those keys are deleted, then the set and its data key. */
  indexes?: SubjectIndex[]
  /** Caches to clear of the subject's entries. */
  caches?: EraseCacheTarget[]
  /** Sessions of the subject to revoke. */
  sessions?: EraseSessionTarget[]
  /** Where to record the erasure (`subject.erase`, with the counts; the subject stored as a keyed hash). */
  audit?: AuditLog
  /** Who asked for it, for the audit entry. @default 'system' */
  actor?: string
}

/** What `eraseSubject()` erased where. */
export interface EraseReport {
  /** Redis keys deleted through the indexes. */
  indexedKeys: number
  /** Cache entries deleted. */
  cacheEntries: number
  /** Sessions revoked. */
  sessions: number
  /** Subject data keys destroyed (crypto-shredded), one per index that had one. */
  shredded: number
  /** The audit entry id, when `audit` was given. */
  auditId?: string
}

/** `cache:security:erase`: `{ indexedKeys, cacheEntries, sessions, shredded }` (never the subject). */
export const eraseChannel = channel('cache:security:erase')

/** Keys deleted per round trip batch. */
const CONCURRENCY = 64

/**
 * Erases a data subject (GDPR art. 17): deletes every key its indexes list (each routed to the master
 * of its slot), the matching cache entries (SCAN on every master), revokes its sessions, then destroys
 * the index sets and the subject's data keys, so copies of values encrypted under them (replicas not yet
 * caught up, other regions, backups) can no longer be decrypted. Records an audit entry with the counts.
 *
 * @example
 * const report = await eraseSubject(conn, 'user:42', { indexes: [subjects], caches: [{ cache, patterns: ['user:42:*'] }], audit })
 */
export async function eraseSubject(
  conn: Connection,
  subject: string,
  options: EraseSubjectOptions = {},
): Promise<EraseReport> {
  if (typeof subject !== 'string' || subject === '')
    throw new InvalidArgumentError(PKG, 'subject', 'must be a non-empty string')
  const indexes = options.indexes ?? []
  if (!Array.isArray(indexes) || indexes.some((i) => !(i instanceof SubjectIndex)))
    throw new InvalidArgumentError(PKG, 'indexes', 'must be an array of SubjectIndex')
  const report: EraseReport = { indexedKeys: 0, cacheEntries: 0, sessions: 0, shredded: 0 }

  for (const index of indexes) {
    const keys = await index.keys(subject)
    for (let i = 0; i < keys.length; i += CONCURRENCY) {
      const counts = await Promise.all(
        keys.slice(i, i + CONCURRENCY).map((k) => conn.send<number>(['UNLINK', k], { key: k })),
      )
      for (const n of counts) report.indexedKeys += Number(n)
    }
  }
  for (const target of options.caches ?? []) {
    for (const key of target.keys ?? []) if (await target.cache.delete(key)) report.cacheEntries++
    for (const glob of target.patterns ?? []) report.cacheEntries += await target.cache.deletePattern(glob)
  }
  for (const target of options.sessions ?? [])
    report.sessions += await target.sessions.revokeUser(target.tenant, target.userId)
  // Last, so a failure above leaves the index in place and the erasure can be run again.
  for (const index of indexes) {
    const hadKey = (await conn.send<number>(['EXISTS', index.dataKeyKey(subject)], {
      key: index.dataKeyKey(subject),
    })) as number
    await index.purge(subject)
    report.shredded += Number(hadKey)
  }
  if (options.audit) {
    report.auditId = await options.audit.record({
      actor: options.actor ?? 'system',
      action: 'subject.erase',
      subject,
      details: { ...report },
    })
  }
  if (eraseChannel.hasSubscribers) {
    const { indexedKeys, cacheEntries, sessions, shredded } = report
    eraseChannel.publish({ indexedKeys, cacheEntries, sessions, shredded })
  }
  return report
}
