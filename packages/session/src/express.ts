import type { Duration } from '@cache/client'
import { type Connection, InvalidArgumentError, parseOptions, zDuration } from '@cache/client'
import type { Keyring } from '@cache/security'
import session from 'express-session'
import { z } from 'zod'
import { BoundedMap } from './bounded-map.js'
import * as D from './defaults.js'
import { SessionEngine } from './engine.js'
import type { CacheUsage, LoadedSession, StoredSession, WriteBase } from './engine-types.js'
import type { HashKey } from './hash.js'
import { isoTime } from './iso-time.js'
import { expiryAt } from './layout.js'
import {
  engineConfig,
  zCacheBytes,
  zCacheSize,
  zHashKey,
  zKeyring,
  zSweepBatch,
  zSweepInterval,
} from './options.js'
import type { Entry } from './recent.js'
import { SessionManager } from './session-manager.js'

/** Options of `new SessionStore(conn, options)`. */
export interface SessionStoreOptions {
  /** Key namespace under the connection's namespace (share it with a SessionManager to see the same sessions). @default 'sess' */
  namespace?: string
  /** The tenant every session of this store belongs to. @default 'default' */
  tenant?: string
  /** The user a session belongs to (for the per-user index and `revokeUser`); undefined = anonymous. */
  userId?: (sess: session.SessionData) => string | undefined
  /** Idle timeout when the cookie has no maxAge. @default '30m' */
  idleTimeout?: Duration
  /** No session lives longer than this after its creation, however active. @default '12h' */
  absoluteTimeout?: Duration
  /** Encrypts session data at rest (see SessionManagerOptions.encryption). @default none */
  encryption?: Keyring
  /** Key of the keyed hash of session ids in Redis keys (see SessionManagerOptions.hashKey). @default the encryption keyring, else SHA-256 without a key */
  hashKey?: HashKey
  /** Largest session, in bytes of JSON. @default 65536 */
  maxDataBytes?: number
  /** Period of the per-user index sweep (see SessionManagerOptions.sweepInterval). @default '1m' */
  sweepInterval?: Duration | false
  /** Per-user indexes visited per sweep. @default 100 */
  sweepBatch?: number
  /**
   * Touch threshold: a `touch` (and a `set` that changes nothing) within this long of the session's last
   * write to Redis is not sent, so a busy session costs one read per request instead of a read and a
   * script. The trade: the Redis expiry (and `expiresAt`) may lag the browser's rolling `cookie.expires` by
   * up to this much, so an idle session ends up to `touchAfter` before its cookie says. Like connect-mongo's
   * `touchAfter`; `0` writes every touch, keeping the cookie and the Redis TTL equal. @default 0
   */
  touchAfter?: Duration
  /** Most sessions whose decoded value is kept (see SessionManagerOptions.cacheSize); `0`: none. @default 10000 */
  cacheSize?: number
  /** Most bytes of kept decoded values (see SessionManagerOptions.cacheBytes); `0`: none. @default 33554432 (32 MiB) */
  cacheBytes?: number
}

const schema = z
  .object({
    namespace: z.string().min(1).max(128).default(D.DEFAULT_NAMESPACE),
    tenant: z.string().regex(D.TENANT_PATTERN, 'must be 1-64 letters, digits or ._-').default('default'),
    userId: z
      .custom<(sess: session.SessionData) => string | undefined>((v) => typeof v === 'function')
      .optional(),
    idleTimeout: zDuration({ min: 1, max: D.MAX_TIMEOUT_MS }).default(D.DEFAULT_IDLE_TIMEOUT_MS),
    absoluteTimeout: zDuration({ min: 1, max: D.MAX_TIMEOUT_MS }).default(D.DEFAULT_ABSOLUTE_TIMEOUT_MS),
    encryption: zKeyring.optional(),
    hashKey: zHashKey.optional(),
    maxDataBytes: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .default(D.DEFAULT_MAX_DATA_BYTES),
    sweepInterval: zSweepInterval,
    sweepBatch: zSweepBatch,
    touchAfter: zDuration({ min: 0, max: D.MAX_TIMEOUT_MS }).default(D.DEFAULT_TOUCH_AFTER_MS),
    cacheSize: zCacheSize,
    cacheBytes: zCacheBytes,
  })
  .strict()

/**
 * Loads whose snapshot is kept (a ring by revision: the last 8,192, what a BoundedMap of DEFAULT_SNAPSHOTS
 * keeps at least and at most), and those kept after their save or touch (see #take). Powers of two.
 */
const SNAPSHOTS = 8192
const SPENT_SNAPSHOTS = 256

/** The field express-session carries back to `set()`: which loaded copy the merge compares against. */
export const REVISION_FIELD = '__rev'

type Callback<T = void> = (err?: unknown, value?: T) => void

/**
 * What `get` loaded, for the merge of `set` and the touch threshold: the decoded value (its `json` is each
 * data field as stored, the cookie without `expires`), not the session objects handed to express-session,
 * so that a snapshot kept past its request holds little.
 */
interface Snapshot extends WriteBase {
  rev: number
  sid: string
  handle: string
  userId: string
  expiresAt: number
}

/**
 * An express-session (and @fastify/session) store: sessions of one tenant with idle and absolute timeouts
 * enforced by Redis, `cookie.expires` kept equal to the Redis TTL, a per-user index (`revokeUser` logs out
 * every browser of a user without SCAN), and `set` merged field by field against the copy that was loaded,
 * so parallel requests that change different fields both survive (same field: last writer wins).
 * @example
 * app.use(session({ store: new SessionStore(conn, { userId: (s) => s.userId }), secret, resave: false,
 *   saveUninitialized: false, rolling: true }))
 */
export class SessionStore extends session.Store {
  /** The SessionManager over the same keys: `listByUser`, `revoke`, `revokeUser`, `stats`. */
  readonly sessions: SessionManager
  /** The tenant of this store. */
  readonly tenant: string
  readonly #engine: SessionEngine
  readonly #options: z.output<typeof schema>
  /**
   * By revision (unique per load in this store), at `rev % SNAPSHOTS`: two array stores per request instead of a
   * Map's set, get and delete.
   */
  readonly #snapshots: (Snapshot | undefined)[] = new Array(SNAPSHOTS).fill(undefined)
  /** sid -> handle of recent sessions: the keyed hash is a good part of a request's CPU. */
  readonly #handles = new BoundedMap<string, string>(D.DEFAULT_SNAPSHOTS)
  readonly #spent: (Snapshot | undefined)[] = new Array(SPENT_SNAPSHOTS).fill(undefined)
  /** Revision of the next load: each load has a snapshot of its own. */
  #rev = 0

  constructor(conn: Connection, options: SessionStoreOptions = {}) {
    super()
    this.#options = parseOptions(D.PKG, schema, options)
    this.tenant = this.#options.tenant
    this.#engine = new SessionEngine(conn, engineConfig(this.#options))
    this.sessions = new SessionManager(conn, {
      namespace: this.#options.namespace,
      ...(this.#options.hashKey === undefined ? {} : { hashKey: this.#options.hashKey }),
      ...(this.#options.encryption === undefined ? {} : { encryption: this.#options.encryption }),
      idleTimeout: this.#options.idleTimeout,
      absoluteTimeout: this.#options.absoluteTimeout,
      maxDataBytes: this.#options.maxDataBytes,
      sweepInterval: this.#options.sweepInterval,
      sweepBatch: this.#options.sweepBatch,
      cacheSize: this.#options.cacheSize,
      cacheBytes: this.#options.cacheBytes,
    })
  }

  /** What this store's cache of decoded values holds now (`store.sessions` has a cache of its own). */
  cacheUsage(): CacheUsage {
    return this.#engine.cacheUsage()
  }

  /** Logs the user out of every browser (optionally but the session `exceptSid`); how many were revoked. */
  revokeUser(userId: string, exceptSid?: string): Promise<number> {
    return this.sessions.revokeUser(this.tenant, userId, exceptSid === undefined ? {} : { except: exceptSid })
  }

  override get(sid: string, cb: Callback<session.SessionData | null>): void {
    let handle: string
    try {
      handle = this.#handle(checkSid(sid))
    } catch (err) {
      this.#run(cb, () => Promise.reject(err))
      return
    }
    // On the GET's own promise (engine.load would be an async function's two reactions): every request.
    const engine = this.#engine
    const tenant = this.tenant
    let entry: Entry
    let read: Promise<string | null>
    try {
      entry = engine.entry(tenant, handle)
      read = engine.get(entry)
    } catch (err) {
      this.#run(cb, () => Promise.reject(err))
      return
    }
    read.then(
      (raw) => {
        let loaded: LoadedSession | null
        try {
          loaded = engine.loaded(tenant, handle, entry, raw)
        } catch (err) {
          cb(err)
          return
        }
        this.#answer(cb, sid, handle, loaded)
      },
      (err: unknown) =>
        engine.recover(err, tenant, handle).then((loaded) => this.#answer(cb, sid, handle, loaded), cb),
    )
  }

  /** Hands a load to express-session: the session (its snapshot kept), null when there is none, or the error. */
  #answer(
    cb: Callback<session.SessionData | null>,
    sid: string,
    handle: string,
    loaded: LoadedSession | null,
  ) {
    let sess: session.SessionData | null
    try {
      sess = loaded ? this.#opened(sid, handle, loaded) : null
    } catch (err) {
      cb(err)
      return
    }
    cb(null, sess)
  }

  /** What get() hands to express-session for a loaded session (its snapshot kept for the save or touch). */
  #opened(sid: string, handle: string, loaded: LoadedSession): session.SessionData {
    const s = loaded.session
    const rev = ++this.#rev
    this.#snapshots[rev & (SNAPSHOTS - 1)] = {
      rev,
      sid,
      handle,
      decoded: loaded.decoded,
      liveAt: loaded.liveAt,
      entry: loaded.entry,
      userId: s.userId,
      expiresAt: s.expiresAt,
    }
    const sess = withCookie(s)
    // A rolling reset (originalMaxAge) never passes the absolute deadline.
    const cookie = sess.cookie as unknown as Record<string, unknown>
    const remaining = s.absoluteExpiresAt - Date.now()
    if (typeof cookie.originalMaxAge === 'number' && cookie.originalMaxAge > remaining)
      cookie.originalMaxAge = remaining
    sess[REVISION_FIELD] = rev
    return sess
  }

  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    let saving: Promise<unknown> | undefined
    try {
      saving = this.#save(checkSid(sid), sess)
    } catch (err) {
      saving = Promise.reject(err)
    }
    // A promise chain rather than an async closure: this runs on every request that changes its session.
    if (saving === undefined) {
      if (cb) queueMicrotask(() => cb(null))
      return
    }
    saving.then(
      () => cb?.(null),
      (err: unknown) => cb?.(err),
    )
  }

  /** The writes of a save (undefined: none needed). */
  #save(sid: string, sess: session.SessionData): Promise<unknown> | undefined {
    const rev = (sess as unknown as Record<string, unknown>)[REVISION_FIELD]
    // cookie.expires is not stored: get() derives it from the expiry, so a rolling cookie does not turn
    // every request into a write of the cookie field.
    const fields = this.#engine.encode(sess, 'sess', REVISION_FIELD, storedCookie)
    const userId = this.#options.userId?.(sess) ?? ''
    const idleMs = this.#idleMs(sess)
    const snap = this.#take(sid, rev)
    if (!snap) return this.#saveUnloaded(sid, rev, fields, userId, idleMs)
    const handle = snap.handle
    const tenant = this.tenant
    const stored = snap.decoded.json
    let set: Record<string, string> | undefined
    for (const k in fields) {
      if (stored[k] !== fields[k]) {
        set ??= {}
        set[k] = fields[k]!
      }
    }
    let del: string[] | undefined
    for (const k in stored) {
      if (k in fields) continue
      del ??= []
      del.push(k)
    }
    const rebound = userId !== snap.userId
    if (set === undefined && del === undefined && !rebound) {
      // Nothing changed: a touch, skipped within the threshold (or when it would not move the expiry).
      return this.#fresh(snap, idleMs) ? undefined : this.#engine.expire(tenant, handle, snap, idleMs)
    }
    const change = { set: set ?? {}, del: del ?? NO_FIELDS, userId, idleMs }
    if (!rebound || userId === '') return this.#engine.write(tenant, handle, snap, change)
    // The user index only when the binding changes (a login), in the same round trip as the write.
    const abs = snap.decoded.header.absoluteExpiresAt
    return Promise.all([
      this.#engine.write(tenant, handle, snap, change),
      this.#index(handle, userId, abs, idleMs),
    ])
  }

  /** A save of a session this process has no snapshot of. */
  async #saveUnloaded(
    sid: string,
    rev: unknown,
    fields: Record<string, string>,
    userId: string,
    idleMs: number,
  ): Promise<void> {
    const handle = this.#handle(sid)
    const tenant = this.tenant
    // Never loaded (a new session): created, with its index entries in the same round trip.
    if (rev === undefined) {
      const made = await this.#engine.create(
        tenant,
        handle,
        userId,
        idleMs,
        this.#options.absoluteTimeout,
        {},
        fields,
      )
      if (made) return
    }
    // Not loaded by this process (its snapshot evicted, or a new session saved twice): a full replace of
    // what is there; a session that expired or was revoked meanwhile is not revived.
    const loaded = await this.#engine.load(tenant, handle)
    if (!loaded) return
    await Promise.all([
      this.#engine.write(tenant, handle, loaded, { set: fields, del: [], replace: true, userId, idleMs }),
      userId !== '' && userId !== loaded.session.userId
        ? this.#index(handle, userId, loaded.session.absoluteExpiresAt, idleMs)
        : undefined,
    ])
  }

  override touch(sid: string, sess: session.SessionData, cb?: Callback): void {
    const snap = typeof sid === 'string' ? this.#take(sid, revisionOf(sess)) : undefined
    if (!snap) {
      this.#run(cb, async () => {
        await this.#engine.touch(this.tenant, this.#handle(checkSid(sid)))
      })
      return
    }
    // The loaded case (every touch express-session makes) without an async closure.
    const idleMs = this.#idleMs(sess)
    if (this.#fresh(snap, idleMs)) {
      if (cb) queueMicrotask(() => cb(null))
      return
    }
    this.#engine.expire(this.tenant, snap.handle, snap, idleMs).then(
      () => cb?.(null),
      (err: unknown) => cb?.(err),
    )
  }

  override destroy(sid: string, cb?: Callback): void {
    this.#run(cb, async () => {
      await this.#engine.remove(this.tenant, this.#handle(checkSid(sid)), 'destroy')
    })
  }

  override all(cb: Callback<session.SessionData[]>): void {
    this.#run(cb, async () => {
      const handles = await this.#liveHandles()
      const found = await Promise.all(handles.map((h) => this.#engine.read(this.tenant, h, false)))
      return found.filter((s) => s !== null).map((s) => withCookie(s) as session.SessionData)
    })
  }

  override length(cb: Callback<number>): void {
    this.#run(cb, async () => (await this.#liveHandles()).length)
  }

  override clear(cb?: Callback): void {
    this.#run(cb, async () => {
      const handles = await this.#liveHandles()
      await Promise.all(handles.map((h) => this.#engine.remove(this.tenant, h, 'clear')))
    })
  }

  /** Idempotent; the connection stays open (it is the caller's). */
  async close(): Promise<void> {
    this.#snapshots.fill(undefined)
    this.#spent.fill(undefined)
    this.#handles.clear()
    await this.sessions.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #liveHandles(): Promise<string[]> {
    const live = this.#engine.keys.live(this.tenant)
    const conn = this.#engine.conn
    await conn.send(['ZREMRANGEBYSCORE', live, '-inf', String(Date.now())], { key: live })
    return (await conn.send<string[]>(['ZRANGE', live, '0', '-1'], { key: live })).map(String)
  }

  /**
   * The snapshot of a load, taken out: a request saves or touches once, so snapshots live as long as a request
   * (kept until the bound instead, thousands of loaded sessions would outlive the young generation of the GC).
   */
  #take(sid: string, rev: unknown): Snapshot | undefined {
    if (rev === undefined) return undefined
    const key = typeof rev === 'number' ? rev : Number(rev)
    // `&` of a non-integer or NaN revision finds a slot all the same: the revision of what is there decides.
    const slot = key & (SNAPSHOTS - 1)
    const snap = this.#snapshots[slot]
    if (snap === undefined || snap.rev !== key) {
      const spent = this.#spent[key & (SPENT_SNAPSHOTS - 1)]
      return spent !== undefined && spent.rev === key && spent.sid === sid ? spent : undefined
    }
    if (snap.sid !== sid) return undefined
    // A copy saved again in the same request (an explicit req.session.save(), then the end of the request)
    // still merges against what it loaded: a few recent snapshots are kept apart.
    this.#snapshots[slot] = undefined
    this.#spent[key & (SPENT_SNAPSHOTS - 1)] = snap
    return snap
  }

  #index(handle: string, userId: string, absAt: number, idleMs: number): Promise<void> {
    const exp = expiryAt(Date.now(), idleMs, absAt)
    return this.#engine.indexAdd(this.tenant, handle, userId, absAt, exp, false, 0)
  }

  /**
   * Whether a write that changes no data may be skipped: the expiry it would set (now + idle, capped by the
   * absolute deadline) is within `touchAfter` of the one loaded (with 0: not past it).
   */
  #fresh(snap: Snapshot, idleMs: number): boolean {
    const next = Math.min(Date.now() + idleMs, snap.decoded.header.absoluteExpiresAt)
    const gain = next - snap.expiresAt
    return gain <= 0 || gain < this.#options.touchAfter
  }

  #handle(sid: string): string {
    let handle = this.#handles.get(sid)
    if (handle === undefined) {
      handle = this.#engine.hash(sid)
      this.#handles.set(sid, handle)
    }
    return handle
  }

  #idleMs(sess: session.SessionData): number {
    const expires = sess.cookie?.expires as unknown
    if (expires) {
      const at =
        expires instanceof Date
          ? expires.getTime()
          : typeof expires === 'string'
            ? Date.parse(expires)
            : new Date(expires as number).getTime()
      const ms = at - Date.now()
      if (Number.isFinite(ms)) return Math.max(1, Math.round(ms))
    }
    return this.#options.idleTimeout
  }

  #run<T>(cb: Callback<T> | undefined, fn: () => Promise<T>): void {
    fn().then(
      (v) => cb?.(null, v),
      (err: unknown) => cb?.(err),
    )
  }
}

const NO_FIELDS: string[] = []

/** The revision express-session carried back (see REVISION_FIELD). */
const revisionOf = (sess: unknown): unknown =>
  sess !== null && typeof sess === 'object' ? (sess as Record<string, unknown>)[REVISION_FIELD] : undefined

const cookieToJSON = (session.Cookie.prototype as unknown as { toJSON: () => unknown }).toJSON

/** The stored cookie: express-session's Cookie (or its JSON) without `expires`; anything else as it is. */
function storedCookie(cookie: unknown): unknown {
  if (cookie === null || typeof cookie !== 'object') return cookie
  const toJSON = (cookie as { toJSON?: () => unknown }).toJSON
  if (toJSON === cookieToJSON) {
    // express-session's Cookie.toJSON makes a new object: `expires` dropped there (JSON.stringify leaves out
    // an undefined property) instead of copying the rest into another one.
    const own = toJSON.call(cookie) as Record<string, unknown>
    own.expires = undefined
    return own
  }
  const { expires: _, ...rest } = (typeof toJSON === 'function' ? toJSON.call(cookie) : cookie) as Record<
    string,
    unknown
  >
  return rest
}

/** The session data as express-session sees it: `cookie.expires` = the Redis expiry. */
function withCookie(s: StoredSession): session.SessionData & Record<string, unknown> {
  const sess = s.data as unknown as session.SessionData & Record<string, unknown>
  const cookie = (sess.cookie ?? {}) as unknown as Record<string, unknown>
  cookie.expires = isoTime(s.expiresAt)
  sess.cookie = cookie as unknown as session.Cookie
  return sess
}

function checkSid(sid: unknown): string {
  if (typeof sid !== 'string' || sid.length < 1 || sid.length > 256) {
    throw new InvalidArgumentError(D.PKG, 'sid', 'must be a session id string')
  }
  return sid
}
