import diagnostics from 'node:diagnostics_channel'
import {
  type Connection,
  hgetallRecord,
  InvalidArgumentError,
  isCacheError,
  type ScriptFn,
} from '@cache/client'
import { LIVE_SLACK_MAX_MS, PKG } from './defaults.js'
import type {
  CacheUsage,
  Change,
  EngineConfig,
  LoadedSession,
  StoredSession,
  WriteBase,
  WriteResult,
} from './engine-types.js'
import type { FieldCipher } from './field-cipher.js'
import type { IdHasher } from './hash.js'
import { SessionKeys } from './keys.js'
import {
  appended,
  type Chunk,
  COMPACT_CHUNKS,
  chunkJson,
  compacted,
  dataOf,
  expiryAt,
  type Header,
  headerLine,
  legacyHeader,
} from './layout.js'
import { aad, type Entry, RecentSessions, remember } from './recent.js'
import { sessionCas, sessionMigrate } from './scripts/index.js'

/** diagnostics_channel `cache:session:created`: `{ tenant, handle }`. */
export const createdChannel = diagnostics.channel('cache:session:created')
/** diagnostics_channel `cache:session:revoked`: `{ tenant, handle, reason }`. */
export const revokedChannel = diagnostics.channel('cache:session:revoked')

/** The live-set score of a session expiring at `exp`: a slack ahead, so most touches need no ZADD there. */
const liveScore = (exp: number, idleMs: number) => exp + Math.min(LIVE_SLACK_MAX_MS, Math.floor(idleMs / 10))

const isWrongType = (err: unknown) =>
  isCacheError(err, 'E_COMMAND') && String((err as Error).message).includes('WRONGTYPE')

/**
 * The Redis side shared by SessionManager and SessionStore: keys, the stored layout (layout.ts), the id hash,
 * encryption. A read is one GET, a change one APPEND (plus its PEXPIREAT), a touch one PEXPIREAT: plain
 * commands, no script, on the hot path. Deadlines are computed on this process' clock and handed to Redis as
 * absolute times (PXAT, PEXPIREAT), so Redis enforces them; see docs/sessions.md for the clock-skew bound.
 */
export class SessionEngine {
  readonly conn: Connection
  readonly keys: SessionKeys
  readonly hash: IdHasher
  readonly maxDataBytes: number
  readonly #cipher: FieldCipher | undefined
  readonly #cas: ScriptFn<number>
  readonly #migrate: ScriptFn<number>
  /**
   * Recent sessions by handle (see Entry): a read of the value last read (or of it plus the chunks appended
   * since) replays nothing (or only those chunks) instead of parsing every chunk again.
   */
  readonly #recent: RecentSessions
  /** Creations by this process (orders a user's index entries within one ms). */
  #seq = 0

  constructor(conn: Connection, config: EngineConfig) {
    this.conn = conn
    this.keys = new SessionKeys(conn.keys.child(config.namespace))
    this.hash = config.hash
    this.maxDataBytes = config.maxDataBytes
    this.#cipher = config.cipher
    this.#recent = new RecentSessions(this.keys, this.#cipher, config)
    this.#cas = conn.defineScript('session:cas', sessionCas, { keys: 1 })
    this.#migrate = conn.defineScript('session:migrate', sessionMigrate, { keys: 1 })
  }

  /** What the cache of decoded values holds now. */
  cacheUsage(): CacheUsage {
    return this.#recent.usage()
  }

  /**
   * JSON of each top-level field; E_INVALID_ARGUMENT when not an object, not JSON or too large. The field
   * `omit` is left out and `cookie` goes through `cookie` first (the express-session store's own fields).
   */
  encode(
    data: unknown,
    field = 'data',
    omit?: string,
    cookie?: (value: unknown) => unknown,
  ): Record<string, string> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidArgumentError(PKG, field, 'must be a plain object')
    }
    const out: Record<string, string> = {}
    let size = 0
    const o = data as Record<string, unknown>
    for (const name of Object.keys(o)) {
      if (name === omit) continue
      let value = o[name]
      if (cookie !== undefined && name === 'cookie') value = cookie(value)
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

  /**
   * Creates a session under `handle` (SET NX PXAT, its index entries in the same round trip); null when the
   * key exists.
   */
  async create(
    tenant: string,
    handle: string,
    userId: string,
    idleMs: number,
    absoluteMs: number,
    meta: Record<string, unknown>,
    fields: Record<string, string>,
  ): Promise<{ now: number; expiresAt: number } | null> {
    const entry = this.#recent.entry(tenant, handle)
    const key = entry.key
    const now = Date.now()
    const abs = now + absoluteMs
    const exp = expiryAt(now, idleMs, abs)
    const live = liveScore(exp, idleMs)
    const header: Header = {
      gen: 0,
      createdAt: now,
      absoluteExpiresAt: abs,
      idleTimeoutMs: idleMs,
      tenant,
      userId,
    }
    const metaJson = JSON.stringify(meta)
    const body = chunkJson({ w: now, r: 1, ...(metaJson === '{}' ? {} : { m: metaJson }), l: live }, fields)
    const line = headerLine(header)
    const value = `${line}\n${this.#seal(key, header, body)}`
    const [made] = await Promise.all([
      this.conn.send<string | null>(['SET', key, value, 'NX', 'PXAT', String(exp)], { key }),
      this.indexAdd(tenant, handle, userId, abs, exp, true, live),
    ])
    if (made === null) return null
    remember(entry, exp, now, live)
    createdChannel.publish({ tenant, handle })
    return { now, expiresAt: exp }
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
      // Sessions of one user created in the same ms by this process keep their order (maxPerUser evicts the
      // oldest; equal scores sort by handle, i.e. at random): a fraction of a ms, at most 4095/4096 past absAt.
      const score = created ? absAt + (this.#seq++ % 4096) / 4096 : absAt
      ops.push(this.conn.send(['ZADD', idx, String(score), handle], { key: idx }))
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
   * writer never lowers it). The score runs a slack ahead of the expiry, so this runs about once per slack
   * per active session, not per request.
   */
  live(tenant: string, handle: string, score: number): Promise<unknown> {
    const live = this.keys.live(tenant)
    return this.conn.send(['ZADD', live, 'GT', String(score), handle], { key: live })
  }

  /** Reads (and optionally touches) a session by handle, with its exact expiry. */
  async read(tenant: string, handle: string, touch: boolean): Promise<StoredSession | null> {
    const loaded = await this.load(tenant, handle, true)
    if (!loaded || !touch) return loaded?.session ?? null
    const s = loaded.session
    const exp = await this.expire(tenant, handle, loaded, s.idleTimeoutMs)
    if (exp === null) return null
    s.expiresAt = exp
    s.lastSeenAt = Math.max(s.lastSeenAt, Date.now())
    return s
  }

  /**
   * Reads a session: one GET (with `exact`, also its PEXPIRETIME in the same round trip). Without `exact`,
   * `expiresAt` is the one of the last write, or of this process' last touch when later: a touch is a bare
   * PEXPIREAT that leaves the value alone, so another process' touch since is not seen (the session lives
   * until the Redis expiry all the same). A 0.1.x session (a hash) is rewritten in this layout on first read.
   */
  async load(tenant: string, handle: string, exact = false): Promise<LoadedSession | null> {
    const entry = this.#recent.entry(tenant, handle)
    const key = entry.key
    let raw: string | null
    let at = 0
    try {
      if (exact) {
        const [v, t] = await Promise.all([
          this.get(entry),
          this.conn.send<number>(['PEXPIRETIME', key], { key }),
        ])
        raw = v
        at = Number(t)
      } else raw = await this.get(entry)
    } catch (err) {
      return this.recover(err, tenant, handle, exact)
    }
    return this.loaded(tenant, handle, entry, raw, exact, at)
  }

  /** The entry of a session (made, with its key, on first use): what `get` and `loaded` take. */
  entry(tenant: string, handle: string): Entry {
    return this.#recent.entry(tenant, handle)
  }

  /**
   * The GET of a load without `exact`, for a caller that chains on its reply itself (one promise reaction
   * instead of an async function's two): `loaded` of the reply is what `load` gives, `recover` of a failure.
   */
  get(entry: Entry): Promise<string | null> {
    const key = entry.key
    return this.conn.send<string | null>(['GET', key], { key })
  }

  /** What `load` gives for a failed read: a 0.1.x session (a hash, WRONGTYPE) upgraded, else the failure. */
  recover(err: unknown, tenant: string, handle: string, exact = false): Promise<LoadedSession | null> {
    if (isWrongType(err)) return this.#upgrade(tenant, handle, this.keys.session(tenant, handle), exact)
    return Promise.reject(err)
  }

  /** What `load` gives for the reply `raw` of its GET (with `exact`, `at` that of its PEXPIRETIME). */
  loaded(
    tenant: string,
    handle: string,
    entry: Entry,
    raw: string | null,
    exact = false,
    at = 0,
  ): LoadedSession | null {
    if (raw === null || raw === undefined) return null
    raw = String(raw)
    const d = this.#recent.decode(entry, raw)
    if (!d || d.header.tenant !== tenant) return null
    const now = Date.now()
    const abs = d.header.absoluteExpiresAt
    if (now >= abs || (exact && at <= 0)) return null
    let expiresAt = expiryAt(d.lastWriteAt, d.idleTimeoutMs, abs)
    let lastSeenAt = d.lastWriteAt
    if (exact) {
      if (at < abs) lastSeenAt = Math.max(lastSeenAt, at - d.idleTimeoutMs)
      expiresAt = at
    } else if (entry.expiresAt > expiresAt) {
      expiresAt = entry.expiresAt
      lastSeenAt = Math.max(lastSeenAt, entry.seenAt)
    }
    const session: StoredSession = {
      handle,
      tenant,
      userId: d.userId,
      data: dataOf(d),
      meta: d.metaJson === '{}' ? {} : (JSON.parse(d.metaJson) as Record<string, unknown>),
      createdAt: d.header.createdAt,
      lastSeenAt,
      expiresAt,
      absoluteExpiresAt: abs,
      idleTimeoutMs: d.idleTimeoutMs,
      version: d.header.gen + d.chunks,
    }
    return { session, json: d.json, raw, decoded: d, liveAt: Math.max(d.liveAt, entry.liveAt), entry }
  }

  /** Touches a session (GET, then PEXPIREAT); its new expiry, or null when it is gone. */
  async touch(tenant: string, handle: string): Promise<number | null> {
    const loaded = await this.load(tenant, handle)
    return loaded ? this.expire(tenant, handle, loaded, loaded.session.idleTimeoutMs) : null
  }

  /**
   * Moves the expiry of a loaded session to now + `idleMs` (never past its absolute deadline): one PEXPIREAT,
   * which never creates a key, so a session deleted meanwhile stays deleted. The new expiry, or null when gone.
   */
  async expire(tenant: string, handle: string, loaded: WriteBase, idleMs: number): Promise<number | null> {
    const now = Date.now()
    const exp = expiryAt(now, idleMs, loaded.decoded.header.absoluteExpiresAt)
    if (exp <= now) return null
    // The entry of the load (evicted since, it is updated all the same: as if evicted just after this).
    const entry = loaded.entry
    const key = entry.key
    const live = exp > loaded.liveAt ? liveScore(exp, idleMs) : 0
    const moved = this.conn.send<number>(['PEXPIREAT', key, String(exp)], { key })
    // Most touches fall within the live-set slack: one command, no Promise.all around it.
    const ok = live ? (await Promise.all([moved, this.live(tenant, handle, live)]))[0] : await moved
    if (Number(ok) !== 1) return null
    remember(entry, exp, now, live || loaded.liveAt)
    return exp
  }

  /**
   * Writes a change to a loaded session. Without `cas`: one APPEND of a chunk with what changed (and the
   * PEXPIREAT, in the same round trip), which never overwrites a parallel write; an APPEND that found no key
   * (the session was deleted meanwhile) is undone and reported as gone, so a revoked session is never
   * resurrected. With `cas`, or when the value has many chunks (a compaction), a compare-and-set
   * (session-cas.lua) that writes only if the value is still the one loaded.
   */
  write(tenant: string, handle: string, base: WriteBase, change: Change, cas = false): Promise<WriteResult> {
    // Not an async function: the append (every save but one in eight) runs in #append's, whose frame holds
    // only its own locals (an async function's frame is made per call with room for every register).
    const d = base.decoded
    const now = Date.now()
    const idle = change.idleMs ?? d.idleTimeoutMs
    const exp = expiryAt(now, idle, d.header.absoluteExpiresAt)
    if (exp <= now) return Promise.resolve(gone())
    const live = exp > base.liveAt ? liveScore(exp, idle) : 0
    if (!cas && d.chunks < COMPACT_CHUNKS)
      return this.#append(tenant, handle, base, change, now, idle, exp, live)
    return this.#compact(tenant, handle, base, change, cas, now, idle, exp, live).then(
      (done) => done ?? this.#append(tenant, handle, base, change, now, idle, exp, live),
    )
  }

  /** The compare-and-set of `write` (see there); undefined when it lost a race and the change goes in as a chunk. */
  async #compact(
    tenant: string,
    handle: string,
    base: WriteBase,
    change: Change,
    cas: boolean,
    now: number,
    idle: number,
    exp: number,
    live: number,
  ): Promise<WriteResult | undefined> {
    const d = base.decoded
    const entry = base.entry
    const key = entry.key
    const userId = change.userId ?? d.userId
    const version = d.header.gen + d.chunks
    const fields: Record<string, string> = change.replace ? {} : { ...d.json }
    for (const k of change.del) delete fields[k]
    Object.assign(fields, change.set)
    const header: Header = { ...d.header, gen: version, userId, idleTimeoutMs: idle }
    const liveAt = Math.max(live, base.liveAt)
    const body = chunkJson(
      { w: now, r: 1, ...(d.metaJson === '{}' ? {} : { m: d.metaJson }), ...(liveAt ? { l: liveAt } : {}) },
      fields,
    )
    const line0 = headerLine(header)
    const value = `${line0}\n${this.#seal(key, header, body)}`
    const [status] = await Promise.all([
      this.#cas([key], [String(Buffer.byteLength(d.raw)), `${d.headerLine}\n`, 's', value, String(exp)]).then(
        Number,
      ),
      live ? this.live(tenant, handle, live) : undefined,
    ])
    if (status === 1) {
      remember(entry, exp, now, liveAt)
      if (this.#recent.keepsWrites)
        this.#recent.wrote(entry, compacted(value, header, line0, fields, d.metaJson, now, liveAt))
      return { status: 1, version: version + 1, expiresAt: exp }
    }
    if (status === -1 || cas) return status === -1 ? gone() : { status: 0, version, expiresAt: 0 }
    // A compaction that lost a race: the change goes in as a chunk after all.
    return undefined
  }

  /** The APPEND of `write` (see there). */
  async #append(
    tenant: string,
    handle: string,
    base: WriteBase,
    change: Change,
    now: number,
    idle: number,
    exp: number,
    live: number,
  ): Promise<WriteResult> {
    const d = base.decoded
    const entry = base.entry
    const key = entry.key
    const userId = change.userId ?? d.userId
    const c: Omit<Chunk, 's'> = { w: now }
    if (idle !== d.idleTimeoutMs) c.i = idle
    if (change.replace) c.r = 1
    if (change.del.length) c.d = change.del
    if (userId !== d.userId) c.u = userId
    if (live) c.l = live
    const chunk = this.#seal(key, d.header, chunkJson(c, change.set))
    const line = `\n${chunk}`
    const opts = { key }
    // Sent together (one round trip); awaited one by one, not through Promise.all (its array, closures and
    // promise per save): the PEXPIREAT is the last reply, and a failure is the one Promise.all would give.
    const sent = this.conn.send<number>(['APPEND', key, line], opts)
    const moved = this.conn.send(['PEXPIREAT', key, String(exp)], opts)
    const listed = live ? this.live(tenant, handle, live) : undefined
    let length: number
    try {
      length = Number(await sent)
      await moved
      if (listed !== undefined) await listed
    } catch (err) {
      moved.catch(ignore)
      listed?.catch(ignore)
      throw err
    }
    // A UTF-8 byte is at most 3 per UTF-16 unit: a longer value is not this line alone, no need to count it.
    if (length <= 3 * line.length && length === Buffer.byteLength(line)) {
      // The key was gone (revoked or expired): what the APPEND made has no header, reads as no session, and
      // goes now (its PEXPIREAT bounds it should this process die first).
      await this.conn.send(['DEL', key], { key })
      return gone()
    }
    remember(entry, exp, now, Math.max(live, base.liveAt))
    // What the key holds now unless another write came between: the next read of it replays nothing.
    if (this.#recent.keepsWrites) this.#recent.wrote(entry, appended(d, chunk, c, change.set))
    return { status: 1, version: d.header.gen + d.chunks + 1, expiresAt: exp }
  }

  /** Deletes one session and its index entries; false when it was not there. */
  async remove(tenant: string, handle: string, reason: string, userId?: string): Promise<boolean> {
    const key = this.keys.session(tenant, handle)
    const owner = userId ?? (await this.load(tenant, handle).catch(() => null))?.session.userId
    const deleted = Number(await this.conn.send(['DEL', key], { key }))
    this.#recent.forget(handle)
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

  /** A 0.1.x session (a hash): rewritten as a string with its expiry kept (session-migrate.lua), then read. */
  async #upgrade(tenant: string, handle: string, key: string, exact: boolean): Promise<LoadedSession | null> {
    const h = hgetallRecord(await this.conn.send(['HGETALL', key], { key }))
    const old = legacyHeader(h)
    if (!old || old.tenant !== tenant) return null
    const fields: Record<string, string> = {}
    for (const name in h)
      if (name.startsWith('f:')) fields[name.slice(2)] = this.#openLegacy(key, name, h[name]!)
    const metaJson = h['~m'] ? this.#openLegacy(key, '~m', h['~m']) : '{}'
    const header: Header = {
      gen: 0,
      createdAt: old.createdAt,
      absoluteExpiresAt: old.absoluteExpiresAt,
      idleTimeoutMs: old.idleTimeoutMs,
      tenant,
      userId: old.userId,
    }
    const body = chunkJson(
      { w: old.lastSeenAt, r: 1, ...(metaJson === '{}' ? {} : { m: metaJson }), l: old.liveAt },
      fields,
    )
    const value = `${headerLine(header)}\n${this.#seal(key, header, body)}`
    await this.#migrate([key], [value, String(old.absoluteExpiresAt)])
    // Now a string (or gone): read as usual; a key still a hash here is not a session of this tenant.
    try {
      return await this.load(tenant, handle, exact)
    } catch (err) {
      if (isWrongType(err)) return null
      throw err
    }
  }

  /** The stored form of one chunk's JSON: itself, or its ciphertext (one cipher call per chunk). */
  #seal(key: string, header: Header, json: string): string {
    return this.#cipher ? this.#cipher.seal(key, aad(header), json) : json
  }

  /** A field of a 0.1.x hash: its JSON, or the ciphertext of it under AAD "key\nfield". */
  #openLegacy(key: string, field: string, stored: string): string {
    return this.#cipher ? this.#cipher.open(key, field, stored) : stored
  }
}

const ignore = () => {}

const gone = (): WriteResult => ({ status: -1, version: 0, expiresAt: 0 })
