import { createHmac } from 'node:crypto'
import { type Connection, type Duration, InvalidArgumentError, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import { PKG } from './defaults.js'
import { KeyedHash } from './keyed-hash.js'
import type { Keyring } from './keyring.js'
import { redact } from './redact.js'
import { zKeyring, zNamespace } from './schemas.js'
import { auditAppend } from './scripts/index.js'

/** One entry to record. */
export interface AuditRecord {
  /** Who did it (a user or service id). */
  actor: string
  /** What was done, e.g. `session.revoke`. */
  action: string
  /** Whose data it concerns (stored as a keyed hash, never in clear). */
  subject?: string
  /** @default 'ok' */
  outcome?: 'ok' | 'denied' | 'error'
  /** Extra facts; passed through `redact()` before storage. */
  details?: Record<string, unknown>
}

/** A stored entry. */
export interface AuditEntry {
  id: string
  /** Milliseconds since the epoch. */
  time: number
  actor: string
  action: string
  /** The keyed hash of the subject ('' when none). */
  subject: string
  outcome: string
  details: Record<string, unknown>
}

/** Options of `new AuditLog()`. */
export interface AuditLogOptions {
  /** Scope of the audit stream. @default 'audit' */
  namespace?: string
  /** Keys the chain's HMAC and the subject hashes. */
  keyring: Keyring
  /** Entries older than this are trimmed by `trim()` (XTRIM MINID) without breaking `verify()`. @default '90d' */
  retention?: Duration
}

/** Result of `verify()`. */
export interface AuditVerifyReport {
  ok: boolean
  /** Entries checked. */
  checked: number
  /** The first entry whose hash or link does not match (edited, or an entry before it was deleted). */
  firstBadId?: string
}

const schema = z
  .object({
    namespace: zNamespace('audit'),
    keyring: zKeyring,
    retention: zDuration({ min: 60_000 }).default(90 * 86_400_000),
  })
  .strict()

const FIELDS = ['time', 'actor', 'action', 'subject', 'outcome', 'details'] as const

function toRecord(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const out: Record<string, string> = {}
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
    return out
  }
  return Object.fromEntries(
    Object.entries((reply ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
  )
}

function entries(reply: unknown): Array<[string, Record<string, string>]> {
  return ((reply ?? []) as unknown[]).map((e) => {
    if (Array.isArray(e)) return [String(e[0]), toRecord(e[1])]
    const o = e as { id: string; message: Record<string, string> }
    return [o.id, toRecord(o.message)]
  })
}

/**
 * A tamper-evident audit log: one Redis Stream per namespace, each entry carrying the HMAC-SHA-256 of the
 * previous entry's hash and its own fields, so editing or deleting an entry is found by `verify()`.
 * Subjects are stored as keyed hashes; details are redacted.
 *
 * @example
 * const audit = new AuditLog(conn, { namespace: 'audit', keyring })
 * await audit.record({ actor: 'admin:1', action: 'session.revoke', subject: 'user:42' })
 */
export class AuditLog {
  readonly #conn: Connection
  readonly #mac: Buffer
  readonly #subjects: KeyedHash
  readonly #retention: number
  readonly #append
  /** The stream key. */
  readonly key: string
  readonly #head: string

  constructor(conn: Connection, options: AuditLogOptions) {
    const o = parseOptions(PKG, schema, options)
    this.#conn = conn
    this.#retention = o.retention
    this.key = conn.keys.tagged(o.namespace, 'audit')
    this.#head = conn.keys.tagged(o.namespace, 'audit-head')
    this.#subjects = new KeyedHash(o.keyring, { context: 'audit-subject' })
    this.#mac = new KeyedHash(o.keyring, { context: 'audit-chain', length: 32 }).digest('chain-key')
    this.#append = conn.defineScript<string | null>('security-audit-append', auditAppend, { keys: 2 })
  }

  /** The keyed hash a subject is stored as (for your own lookups). */
  subjectHash(subject: string): string {
    return this.#subjects.part(subject)
  }

  #hash(prev: string, fields: Record<string, string>): string {
    const h = createHmac('sha256', this.#mac).update(prev)
    for (const f of FIELDS) h.update(`\n${f}=${fields[f] ?? ''}`)
    return h.digest('base64url')
  }

  /** Appends an entry to the chain; returns its stream id. */
  async record(entry: AuditRecord): Promise<string> {
    if (!entry || typeof entry.actor !== 'string' || entry.actor === '')
      throw new InvalidArgumentError(PKG, 'actor', 'must be a non-empty string')
    if (typeof entry.action !== 'string' || entry.action === '')
      throw new InvalidArgumentError(PKG, 'action', 'must be a non-empty string')
    const fields: Record<string, string> = {
      time: String(Date.now()),
      actor: entry.actor,
      action: entry.action,
      subject: entry.subject === undefined ? '' : this.#subjects.part(entry.subject),
      outcome: entry.outcome ?? 'ok',
      details: JSON.stringify(redact(entry.details ?? {})),
    }
    for (let attempt = 0; ; attempt++) {
      const prev = String((await this.#conn.send(['HGET', this.#head, 'hash'], { key: this.#head })) ?? '')
      const hash = this.#hash(prev, fields)
      const args = [prev, hash, ...FIELDS.flatMap((f) => [f, fields[f]!]), 'prev', prev, 'hash', hash]
      const id = await this.#append([this.key, this.#head], args)
      if (id) return String(id)
      if (attempt > 100)
        throw new InvalidArgumentError(PKG, 'entry', 'could not be chained (too much contention)')
    }
  }

  /** Entries in time order, optionally of one subject and within `[from, to]` (Dates or ms). */
  async *query(
    filter: { subject?: string; from?: Date | number; to?: Date | number; count?: number } = {},
  ): AsyncGenerator<AuditEntry> {
    const subject = filter.subject === undefined ? undefined : this.#subjects.part(filter.subject)
    let start = filter.from === undefined ? '-' : String(+filter.from)
    const end = filter.to === undefined ? '+' : String(+filter.to)
    const count = String(filter.count ?? 500)
    for (;;) {
      const batch = entries(
        await this.#conn.send(['XRANGE', this.key, start, end, 'COUNT', count], { key: this.key }),
      )
      for (const [id, f] of batch) {
        if (subject !== undefined && f.subject !== subject) continue
        yield {
          id,
          time: Number(f.time),
          actor: f.actor ?? '',
          action: f.action ?? '',
          subject: f.subject ?? '',
          outcome: f.outcome ?? '',
          details: JSON.parse(f.details ?? '{}') as Record<string, unknown>,
        }
      }
      if (batch.length < Number(count)) return
      start = `(${batch[batch.length - 1]![0]}`
    }
  }

  /** Recomputes the hash chain from the retention anchor: an edited or deleted entry is reported. */
  async verify(): Promise<AuditVerifyReport> {
    let prev = String((await this.#conn.send(['HGET', this.#head, 'anchor'], { key: this.#head })) ?? '')
    let start = '-'
    let checked = 0
    let last = ''
    for (;;) {
      const batch = entries(
        await this.#conn.send(['XRANGE', this.key, start, '+', 'COUNT', '500'], { key: this.key }),
      )
      for (const [id, f] of batch) {
        checked++
        if (f.prev !== prev || f.hash !== this.#hash(prev, f)) return { ok: false, checked, firstBadId: id }
        prev = f.hash
      }
      if (batch.length < 500) break
      last = batch[batch.length - 1]![0]
      start = `(${last}`
    }
    const head = String((await this.#conn.send(['HGET', this.#head, 'hash'], { key: this.#head })) ?? '')
    // The newest entries were deleted: the chain stops short of its head.
    if (head !== prev) return { ok: false, checked, firstBadId: 'head' }
    return { ok: true, checked }
  }

  /**
   * Drops entries older than `retention` (XTRIM MINID) and keeps the hash of the last dropped one as the
   * chain's anchor, so `verify()` still passes. Returns how many entries were removed.
   */
  async trim(now: number = Date.now()): Promise<number> {
    const cutoff = now - this.#retention
    const older = entries(
      await this.#conn.send(['XREVRANGE', this.key, String(cutoff - 1), '-', 'COUNT', '1'], {
        key: this.key,
      }),
    )
    if (older.length === 0) return 0
    const [, last] = older[0]!
    await this.#conn.send(['HSET', this.#head, 'anchor', last.hash ?? ''], { key: this.#head })
    return Number(await this.#conn.send(['XTRIM', this.key, 'MINID', String(cutoff)], { key: this.key }))
  }

  /**
   * Pulls new ACL LOG entries (denied commands, keys, channels, failed AUTH) from every master into the
   * audit log as `acl.denied` entries; returns how many were imported.
   */
  async importAclLog(): Promise<number> {
    const seenKey = `${this.#head}:acl-seen`
    let imported = 0
    for (const node of await this.#conn.masters()) {
      const log = (await node.send<unknown[]>(['ACL', 'LOG', '128'])) ?? []
      for (const raw of [...log].reverse()) {
        const e = toRecord(raw)
        const clientId = /(?:^|\s)id=(\d+)/.exec(e['client-info'] ?? '')?.[1] ?? ''
        // Redis groups repeats of one denial in one entry (count grows): import what is new since last time.
        const fp = `${node.address}|${e['entry-id'] ?? ''}|${e.username}|${e.reason}|${e.context}|${e.object}|${clientId}`
        const count = Number(e.count ?? 1)
        const before = Number((await this.#conn.send(['HGET', seenKey, fp], { key: seenKey })) ?? 0)
        if (count <= before) continue
        await this.record({
          actor: e.username ?? 'unknown',
          action: 'acl.denied',
          outcome: 'denied',
          details: {
            reason: e.reason,
            context: e.context,
            object: e.object,
            count: count - before,
            node: node.address,
          },
        })
        await this.#conn.send(['HSET', seenKey, fp, String(count)], { key: seenKey })
        imported++
      }
    }
    return imported
  }
}
