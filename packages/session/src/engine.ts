import diagnostics from 'node:diagnostics_channel'
import { type Connection, hgetallRecord, InvalidArgumentError, type ScriptFn } from '@cache/client'
import { LIVE_SLACK_MAX_MS, PKG } from './defaults.js'
import type { FieldCipher } from './field-cipher.js'
import type { IdHasher } from './hash.js'
import { SessionKeys } from './keys.js'
import { sessionCreate, sessionGet, sessionWrite } from './scripts/index.js'

/** diagnostics_channel `cache:session:created`: `{ tenant, handle }`. */
export const createdChannel = diagnostics.channel('cache:session:created')
/** diagnostics_channel `cache:session:revoked`: `{ tenant, handle, reason }`. */
export const revokedChannel = diagnostics.channel('cache:session:revoked')

/** Session data: a JSON object; each top-level field is stored (and merged) on its own. */
export type SessionData = Record<string, unknown>

/** One session as read from Redis. */
export interface StoredSession {
  handle: string
  tenant: string
  userId: string
  data: SessionData
  meta: Record<string, unknown>
  createdAt: number
  lastSeenAt: number
  expiresAt: number
  absoluteExpiresAt: number
  idleTimeoutMs: number
  version: number
}

type GetReply = null | [number, number, string[], number]
type WriteReply = [number, number?, number?, number?]
const SLACK = String(LIVE_SLACK_MAX_MS)

/** A session as loaded, with the JSON of each data field as stored (what a merge compares against). */
export interface LoadedSession {
  session: StoredSession
  json: Record<string, string>
}

/** Parameters of one write (see session-write.lua). */
export interface WriteRequest {
  tenant: string
  expectedVersion?: number
  replace: boolean
  create?: { idleMs: number; absoluteMs: number }
  userId?: string
  idleMs?: number
  set: Record<string, string>
  del: string[]
}

/** How an engine stores: its namespace, the id hash, the optional cipher and the size cap. */
export interface EngineConfig {
  namespace: string
  hash: IdHasher
  cipher: FieldCipher | undefined
  maxDataBytes: number
}

/** The Redis side shared by SessionManager and SessionStore: keys, scripts, the id hash, encryption. */
export class SessionEngine {
  readonly conn: Connection
  readonly keys: SessionKeys
  readonly hash: IdHasher
  readonly maxDataBytes: number
  readonly #cipher: FieldCipher | undefined
  readonly #create: ScriptFn<number | [number, number, number]>
  readonly #get: ScriptFn<GetReply>
  readonly #write: ScriptFn<WriteReply>

  constructor(conn: Connection, config: EngineConfig) {
    this.conn = conn
    this.keys = new SessionKeys(conn.keys.child(config.namespace))
    this.hash = config.hash
    this.maxDataBytes = config.maxDataBytes
    this.#cipher = config.cipher
    this.#create = conn.defineScript('session:create', sessionCreate, { keys: 1 })
    this.#get = conn.defineScript('session:get', sessionGet, { keys: 1 })
    this.#write = conn.defineScript('session:write', sessionWrite, { keys: 1 })
  }

  /** JSON of each top-level field; E_INVALID_ARGUMENT when not an object, not JSON or too large. */
  encode(data: unknown, field = 'data'): Record<string, string> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidArgumentError(PKG, field, 'must be a plain object')
    }
    const out: Record<string, string> = {}
    let size = 0
    for (const [name, value] of Object.entries(data)) {
      if (value === undefined) continue
      let json: string | undefined
      try {
        json = JSON.stringify(value)
      } catch {
        throw new InvalidArgumentError(PKG, `${field}.${name}`, 'is not JSON-serializable')
      }
      if (json === undefined) continue
      size += json.length + name.length
      out[name] = json
    }
    if (size > this.maxDataBytes) {
      throw new InvalidArgumentError(PKG, field, `is larger than maxDataBytes (${this.maxDataBytes})`)
    }
    return out
  }

  /** Creates a session under `handle`; false when it exists. */
  async create(
    tenant: string,
    handle: string,
    userId: string,
    idleMs: number,
    absoluteMs: number,
    meta: Record<string, unknown>,
    fields: Record<string, string>,
  ): Promise<{ now: number; expiresAt: number } | null> {
    const key = this.keys.session(tenant, handle)
    const metaJson = JSON.stringify(meta)
    const args: string[] = [
      tenant,
      userId,
      String(idleMs),
      String(absoluteMs),
      // No meta, no field: a read then decodes one string less.
      metaJson === '{}' ? '' : this.#seal(key, '~m', metaJson),
      SLACK,
    ]
    for (const [k, v] of Object.entries(fields)) args.push(k, this.#seal(key, `f:${k}`, v))
    const reply = await this.#create([key], args)
    if (typeof reply === 'number') return null
    const [now, expiresAt, liveAt] = reply
    await this.indexAdd(tenant, handle, userId, now + absoluteMs, expiresAt, true, Number(liveAt))
    createdChannel.publish({ tenant, handle })
    return { now, expiresAt }
  }

  /** Adds a session to the user's index, the stats and (`liveAt` > 0) the tenant's live set. */
  async indexAdd(
    tenant: string,
    handle: string,
    userId: string,
    absAt: number,
    expiresAt: number,
    created: boolean,
    liveAt: number,
  ) {
    const ops: Promise<unknown>[] = []
    if (liveAt > 0) ops.push(this.live(tenant, handle, liveAt))
    if (userId !== '') {
      const idx = this.keys.user(tenant, userId)
      ops.push(this.conn.send(['ZADD', idx, String(absAt), handle], { key: idx }))
      // The index lives as long as its longest session: NX gives a new index its first expiry (GT alone never
      // sets one, a key without expiry counting as infinite), GT then only ever extends it.
      ops.push(
        this.conn
          .send(['PEXPIREAT', idx, String(absAt), 'NX'], { key: idx })
          .then(() => this.conn.send(['PEXPIREAT', idx, String(absAt), 'GT'], { key: idx })),
      )
      // The sweep visits this index once the session may have expired (LT: the earliest such time wins).
      const sweep = this.keys.sweep()
      ops.push(
        this.conn.send(['ZADD', sweep, 'LT', String(expiresAt), `${tenant}:${userId}`], { key: sweep }),
      )
    }
    if (created) {
      const counters = this.keys.counters(tenant)
      const tenants = this.keys.tenants()
      ops.push(this.conn.send(['HINCRBY', counters, 'created', '1'], { key: counters }))
      ops.push(this.conn.send(['SADD', tenants, tenant], { key: tenants }))
      if (userId !== '') {
        const users = this.keys.users(tenant, new Date().toISOString().slice(0, 10))
        ops.push(this.conn.send(['PFADD', users, userId], { key: users }))
        ops.push(this.conn.send(['PEXPIRE', users, String(2 * 86_400_000)], { key: users }))
      }
    }
    await Promise.all(ops)
  }

  /**
   * Records a session in the tenant's live set with `score`, an upper bound of its expiry (GT: a slower
   * writer never lowers it). The scripts keep the score a slack ahead of the expiry (`~L`), so this runs
   * about once per slack per active session, not per request.
   */
  live(tenant: string, handle: string, score: number): Promise<unknown> {
    const live = this.keys.live(tenant)
    return this.conn.send(['ZADD', live, 'GT', String(score), handle], { key: live })
  }

  /** Reads (and optionally touches) a session by handle. */
  async read(tenant: string, handle: string, touch: boolean): Promise<StoredSession | null> {
    if (!touch) return (await this.load(tenant, handle))?.session ?? null
    const key = this.keys.session(tenant, handle)
    const reply = await this.#get([key], [tenant, '1', '1', SLACK])
    if (!reply) return null
    const [expiresAt, lastSeenAt, flat, liveAt] = reply
    const loaded = this.#decode(key, handle, flat)
    if (!loaded) return null
    const s = loaded.session
    s.expiresAt = Number(expiresAt)
    s.lastSeenAt = Number(lastSeenAt)
    if (Number(liveAt) > 0) await this.live(tenant, handle, Number(liveAt))
    return s
  }

  /**
   * Reads a session without touching it: one HGETALL, no script. The key's PEXPIREAT is min(last seen +
   * idle, absolute deadline), set by every script that moves either, so Redis itself never returns a session
   * past its expiry.
   */
  async load(tenant: string, handle: string): Promise<LoadedSession | null> {
    const key = this.keys.session(tenant, handle)
    const loaded = this.#decode(key, handle, await this.conn.send(['HGETALL', key], { key }))
    return loaded && loaded.session.tenant === tenant ? loaded : null
  }

  /** Touches a session; its new expiry, or null when it is gone. */
  async touch(tenant: string, handle: string): Promise<number | null> {
    const reply = await this.#get([this.keys.session(tenant, handle)], [tenant, '1', '0', SLACK])
    if (!reply) return null
    if (Number(reply[3]) > 0) await this.live(tenant, handle, Number(reply[3]))
    return Number(reply[0])
  }

  /** One atomic write (see WriteRequest); `{ status: 1 }` done, 0 version conflict, -1 gone. */
  async write(
    handle: string,
    w: WriteRequest,
  ): Promise<{ status: number; version: number; expiresAt: number; liveAt: number }> {
    const args: string[] = [
      w.tenant,
      w.expectedVersion === undefined ? '' : String(w.expectedVersion),
      w.replace ? '1' : '0',
      w.create ? String(w.create.idleMs) : '',
      w.create ? String(w.create.absoluteMs) : '',
      w.userId ?? '',
      w.idleMs === undefined ? '' : String(w.idleMs),
      SLACK,
    ]
    const key = this.keys.session(w.tenant, handle)
    const pairs = Object.entries(w.set)
    args.push(String(pairs.length))
    for (const [k, v] of pairs) args.push(k, this.#seal(key, `f:${k}`, v))
    args.push(...w.del)
    const [status, version = 0, expiresAt = 0, liveAt = 0] = await this.#write([key], args)
    if (status === 1 && Number(liveAt) > 0) await this.live(w.tenant, handle, Number(liveAt))
    return {
      status: Number(status),
      version: Number(version),
      expiresAt: Number(expiresAt),
      liveAt: Number(liveAt),
    }
  }

  /** Deletes one session and its index entries; false when it was not there. */
  async remove(tenant: string, handle: string, reason: string, userId?: string): Promise<boolean> {
    const key = this.keys.session(tenant, handle)
    const owner =
      userId ?? parseHeader(await this.conn.send<string | null>(['HGET', key, '~'], { key }))?.userId
    const deleted = Number(await this.conn.send(['DEL', key], { key }))
    const live = this.keys.live(tenant)
    const ops: Promise<unknown>[] = [this.conn.send(['ZREM', live, handle], { key: live })]
    if (owner) {
      const idx = this.keys.user(tenant, owner)
      ops.push(this.conn.send(['ZREM', idx, handle], { key: idx }))
    }
    if (deleted) {
      const counters = this.keys.counters(tenant)
      ops.push(this.conn.send(['HINCRBY', counters, 'revoked', '1'], { key: counters }))
    }
    await Promise.all(ops)
    if (deleted) revokedChannel.publish({ tenant, handle, reason })
    return deleted === 1
  }

  /** The stored form of one field's JSON: itself, or its ciphertext with encryption. */
  #seal(key: string, field: string, json: string): string {
    return this.#cipher ? this.#cipher.seal(key, field, json) : json
  }

  #open(key: string, field: string, stored: string): string {
    return this.#cipher ? this.#cipher.open(key, field, stored) : stored
  }

  /** A session from its hash fields (HGETALL's flat reply), with the JSON of each data field; null without a header. */
  #decode(key: string, handle: string, flat: unknown): LoadedSession | null {
    const data: SessionData = {}
    const json: Record<string, string> = {}
    let head: Header | undefined
    let meta: Record<string, unknown> = {}
    if (!Array.isArray(flat)) return this.#decode(key, handle, Object.entries(hgetallRecord(flat)).flat())
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = String(flat[i])
      const value = String(flat[i + 1])
      if (name === '~') head = parseHeader(value)
      else if (name === '~m') meta = JSON.parse(this.#open(key, '~m', value)) as Record<string, unknown>
      else if (name.startsWith('f:')) {
        const field = name.slice(2)
        const text = this.#open(key, name, value)
        json[field] = text
        data[field] = JSON.parse(text)
      }
    }
    if (!head) return null
    const session: StoredSession = {
      handle,
      tenant: head.tenant,
      userId: head.userId,
      data,
      meta,
      createdAt: head.createdAt,
      lastSeenAt: head.lastSeenAt,
      expiresAt: Math.min(head.lastSeenAt + head.idleTimeoutMs, head.absoluteExpiresAt),
      absoluteExpiresAt: head.absoluteExpiresAt,
      idleTimeoutMs: head.idleTimeoutMs,
      version: head.version,
    }
    return { session, json }
  }
}

/** The '~' field of a session hash (see session-create.lua). */
interface Header {
  version: number
  lastSeenAt: number
  idleTimeoutMs: number
  absoluteExpiresAt: number
  createdAt: number
  tenant: string
  userId: string
}

/** Parses a session header "version|last|idle|absolute|live|created|tenant|user"; undefined when malformed. */
function parseHeader(head: string | null | undefined): Header | undefined {
  if (typeof head !== 'string') return undefined
  const p = head.split('|')
  if (p.length < 8) return undefined
  return {
    version: Number(p[0]),
    lastSeenAt: Number(p[1]),
    idleTimeoutMs: Number(p[2]),
    absoluteExpiresAt: Number(p[3]),
    createdAt: Number(p[5]),
    tenant: p[6]!,
    // A user id may hold '|': it is the rest.
    userId: p.length === 8 ? p[7]! : p.slice(7).join('|'),
  }
}
