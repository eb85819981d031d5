import { type Connection, InvalidArgumentError } from '@cache/client'
import { HANDLE_PATTERN, PKG } from './defaults.js'
import { SessionEngine } from './engine.js'
import type { CacheUsage, SessionData, StoredSession } from './engine-types.js'
import { SessionConflictError } from './errors.js'
import { newId } from './hash.js'
import { IndexSweeper, type SweepReport } from './index-sweeper.js'
import {
  checkId,
  checkTenant,
  checkUser,
  engineConfig,
  type ResolvedManager,
  resolveManager,
  type SessionManagerOptions,
} from './options.js'
import type { RefreshTokens } from './refresh-tokens.js'
import { exportSessions, type ImportOptions, importSessions } from './session-transfer.js'

/** A session returned by `create`, `get`, `update` and `regenerate`. */
export interface Session<T extends SessionData = SessionData> {
  /** The secret id (put it in the cookie); Redis holds only its keyed hash. */
  id: string
  /** The public handle (the hash of the id): safe to show in "your devices" lists and to `revoke()`. */
  handle: string
  tenant: string
  userId: string
  data: T
  meta: Record<string, unknown>
  /** ms since the epoch, by the server's clock. */
  createdAt: number
  lastSeenAt: number
  /** When the session expires (the Redis TTL): min(lastSeenAt + idle, absolute deadline). */
  expiresAt: number
  /** The absolute deadline: no touch moves expiresAt past it. */
  absoluteExpiresAt: number
  /** Bumped on every write; `update()` compares and sets it. */
  version: number
}

/** One entry of `listByUser()`: no secret id, only the handle. */
export interface SessionInfo {
  handle: string
  createdAt: number
  lastSeenAt: number
  expiresAt: number
  meta: Record<string, unknown>
}

/** Counters of one tenant, from `stats()`. */
export interface SessionStats {
  /**
   * Sessions not expired (from the tenant's live set, swept on read). The set keeps an upper bound of each
   * expiry (up to idle / 10, at most a minute, ahead), so a session that just idled out may count that long.
   */
  activeSessions: number
  /** Distinct users with a session created today or yesterday (UTC; HyperLogLog, ±0.81%). */
  activeUsers: number
  /** Sessions created since the counters began. */
  creations: number
  /** Sessions destroyed or revoked (expiry is not counted). */
  revocations: number
}

/** Arguments of `create()`. */
export interface CreateInput<T extends SessionData> {
  tenant: string
  userId: string
  data?: T
  /** Device facts shown by `listByUser()` (ip, userAgent…); stored as given, never used for access. */
  meta?: Record<string, unknown>
}

/** Which tenant a call is about. */
export interface TenantScope {
  tenant: string
}

/**
 * Sessions with tenants, a per-user index ("log out everywhere" without SCAN), idle and absolute timeouts
 * enforced by the server, and atomic updates.
 * @example
 * const sessions = new SessionManager(conn, { idleTimeout: '30m', absoluteTimeout: '12h' })
 * const s = await sessions.create({ tenant: 't1', userId: 'u42', data: { cart: [] } })
 * await sessions.update(s.id, (d) => ({ ...d, cart: [1] }), { tenant: 't1' })
 */
export class SessionManager {
  readonly #options: ResolvedManager
  readonly #engine: SessionEngine
  readonly #sweeper: IndexSweeper
  #closed = false

  constructor(conn: Connection, options: SessionManagerOptions = {}) {
    this.#options = resolveManager(options)
    this.#engine = new SessionEngine(conn, engineConfig(this.#options))
    this.#sweeper = new IndexSweeper(this.#engine, {
      batch: this.#options.sweepBatch,
      intervalMs: this.#options.sweepInterval,
    })
    this.#sweeper.start()
  }

  /**
   * Sweeps the per-user indexes once, now: entries of expired sessions go, at most `sweepBatch` indexes
   * (those due first). The periodic sweep calls this every `sweepInterval`; call it yourself with
   * `sweepInterval: false` (a cron job, a worker).
   */
  sweep(): Promise<SweepReport> {
    return this.#sweeper.sweep()
  }

  /** What this manager's cache of decoded values holds now (never more than `cacheSize`, `cacheBytes`). */
  cacheUsage(): CacheUsage {
    return this.#engine.cacheUsage()
  }

  /** The handle (keyed hash) of a session id, as `listByUser()` reports it. */
  handleOf(id: string): string {
    return this.#engine.hash(checkId(id))
  }

  /** Creates a session for a user; evicts the user's oldest when `maxPerUser` is exceeded. */
  async create<T extends SessionData>(input: CreateInput<T>): Promise<Session<T>> {
    if (typeof input !== 'object' || input === null)
      throw new InvalidArgumentError(PKG, 'input', 'must be an object')
    const tenant = checkTenant(input.tenant)
    const userId = checkUser(input.userId)
    const data = (input.data ?? {}) as T
    const fields = this.#engine.encode(data)
    const meta = input.meta ?? {}
    this.#engine.encode(meta, 'meta')
    const { idleTimeout, absoluteTimeout } = this.#options
    for (;;) {
      const id = newId()
      const handle = this.#engine.hash(id)
      const made = await this.#engine.create(
        tenant,
        handle,
        userId,
        idleTimeout,
        absoluteTimeout,
        meta,
        fields,
      )
      if (!made) continue
      if (this.#options.maxPerUser !== undefined) await this.#evict(tenant, userId, this.#options.maxPerUser)
      return {
        id,
        handle,
        tenant,
        userId,
        // What get() will return: the stored JSON, not the caller's object (no functions, Dates as strings).
        data: fromFields(fields) as T,
        meta,
        createdAt: made.now,
        lastSeenAt: made.now,
        expiresAt: made.expiresAt,
        absoluteExpiresAt: made.now + absoluteTimeout,
        version: 1,
      }
    }
  }

  /** The session, or null when missing, expired or another tenant's; `touch: true` also extends it. */
  async get<T extends SessionData = SessionData>(
    id: string,
    scope: TenantScope & { touch?: boolean },
  ): Promise<Session<T> | null> {
    const tenant = checkTenant(scope?.tenant)
    const s = await this.#engine.read(tenant, this.#engine.hash(checkId(id)), scope.touch === true)
    return s ? withId<T>(id, s) : null
  }

  /** Extends the idle deadline (never past the absolute one); the new expiry, or null when the session is gone. */
  async touch(id: string, scope: TenantScope): Promise<number | null> {
    return this.#engine.touch(checkTenant(scope?.tenant), this.#engine.hash(checkId(id)))
  }

  /**
   * Replaces the data by `fn(data)` atomically: a compare-and-set on the session's version, retried when a
   * parallel write got there first (so `fn` may run more than once: keep it pure). Null when the session is gone.
   */
  async update<T extends SessionData = SessionData>(
    id: string,
    fn: (data: T) => T | Promise<T>,
    scope: TenantScope,
  ): Promise<Session<T> | null> {
    const tenant = checkTenant(scope?.tenant)
    if (typeof fn !== 'function') throw new InvalidArgumentError(PKG, 'fn', 'must be a function')
    const handle = this.#engine.hash(checkId(id))
    for (let attempt = 1; attempt <= this.#options.maxRetries; attempt++) {
      const loaded = await this.#engine.load(tenant, handle, true)
      if (!loaded) return null
      const current = loaded.session
      const next = await fn(structuredClone(current.data) as T)
      const fields = this.#engine.encode(next)
      const set: Record<string, string> = {}
      for (const k in fields) if (loaded.json[k] !== fields[k]) set[k] = fields[k]!
      const del = Object.keys(loaded.json).filter((k) => !(k in fields))
      // A compare-and-set: written only if nothing was written since the load.
      const w = await this.#engine.write(tenant, handle, loaded, { set, del }, true)
      if (w.status === -1) return null
      if (w.status === 1) {
        return withId<T>(id, {
          ...current,
          data: next,
          version: w.version,
          expiresAt: w.expiresAt,
          lastSeenAt: Date.now(),
        })
      }
    }
    throw new SessionConflictError(this.#options.maxRetries)
  }

  /** Moves the session to a new id (fixation defence after login); the old id stops working. */
  async regenerate<T extends SessionData = SessionData>(
    id: string,
    scope: TenantScope,
  ): Promise<Session<T> | null> {
    const tenant = checkTenant(scope?.tenant)
    const handle = this.#engine.hash(checkId(id))
    const old = await this.#engine.read(tenant, handle, false)
    if (!old) return null
    const next = await this.create<T>({ tenant, userId: old.userId, data: old.data as T, meta: old.meta })
    await this.#engine.remove(tenant, handle, 'regenerate', old.userId)
    return next
  }

  /** Deletes a session (logout); false when it was not there. */
  async destroy(id: string, scope: TenantScope): Promise<boolean> {
    return this.#engine.remove(checkTenant(scope?.tenant), this.#engine.hash(checkId(id)), 'destroy')
  }

  /** The user's live sessions, newest first: O(the user's sessions), read from the per-user index. */
  async listByUser(tenant: string, userId: string): Promise<SessionInfo[]> {
    checkTenant(tenant)
    checkUser(userId)
    const idx = this.#engine.keys.user(tenant, userId)
    const conn = this.#engine.conn
    await conn.send(['ZREMRANGEBYSCORE', idx, '-inf', String(Date.now())], { key: idx })
    const handles = (await conn.send<string[]>(['ZRANGE', idx, '0', '-1'], { key: idx })).map(String)
    const found = await Promise.all(handles.map((h) => this.#engine.read(tenant, h, false)))
    const gone = handles.filter((_, i) => !found[i])
    if (gone.length) await conn.send(['ZREM', idx, ...gone], { key: idx })
    return found
      .filter((s): s is StoredSession => s !== null)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((s) => ({
        handle: s.handle,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
        meta: s.meta,
      }))
  }

  /** Revokes one session by its handle ("log out that device"); false when it was not there. */
  async revoke(tenant: string, handle: string): Promise<boolean> {
    checkTenant(tenant)
    if (typeof handle !== 'string' || !HANDLE_PATTERN.test(handle)) {
      throw new InvalidArgumentError(PKG, 'handle', 'must be a session handle from listByUser()')
    }
    return this.#engine.remove(tenant, handle, 'revoke')
  }

  /**
   * Revokes every session of a user ("log out everywhere"), optionally but one (`except`: a session id); how
   * many sessions were revoked. With `refreshTokens`, every refresh-token family of the user in it is revoked
   * too, in the same round trips (`RefreshTokens.revokeUser`; families are not tied to a session, so `except`
   * keeps none of them).
   */
  async revokeUser(
    tenant: string,
    userId: string,
    options: { except?: string; refreshTokens?: RefreshTokens } = {},
  ): Promise<number> {
    checkTenant(tenant)
    checkUser(userId)
    if (options.refreshTokens !== undefined) {
      const [n] = await Promise.all([
        this.revokeUser(tenant, userId, options.except === undefined ? {} : { except: options.except }),
        options.refreshTokens.revokeUser(tenant, userId),
      ])
      return n
    }
    const keep =
      options.except === undefined ? undefined : this.#engine.hash(checkId(options.except, 'except'))
    const idx = this.#engine.keys.user(tenant, userId)
    const handles = (await this.#engine.conn.send<string[]>(['ZRANGE', idx, '0', '-1'], { key: idx })).map(
      String,
    )
    const revoked = await Promise.all(
      handles.filter((h) => h !== keep).map((h) => this.#engine.remove(tenant, h, 'revoke-user', userId)),
    )
    return revoked.filter(Boolean).length
  }

  /** Every tenant that ever had a session created (the set the index sweep visits), sorted. */
  async tenants(): Promise<string[]> {
    const key = this.#engine.keys.tenants()
    const members = await this.#engine.conn.send<string[]>(['SMEMBERS', key], { key })
    return members.map(String).sort()
  }

  /** Active sessions, active users (HyperLogLog), creations and revocations of a tenant. */
  async stats(tenant: string): Promise<SessionStats> {
    checkTenant(tenant)
    const conn = this.#engine.conn
    const keys = this.#engine.keys
    const live = keys.live(tenant)
    const counters = keys.counters(tenant)
    const day = (offset: number) => new Date(Date.now() - offset).toISOString().slice(0, 10)
    await conn.send(['ZREMRANGEBYSCORE', live, '-inf', String(Date.now())], { key: live })
    const [active, counts, today, yesterday] = await Promise.all([
      conn.send<number>(['ZCARD', live], { key: live }),
      conn.send<Array<string | null>>(['HMGET', counters, 'created', 'revoked'], { key: counters }),
      conn.send<number>(['PFCOUNT', keys.users(tenant, day(0))], { key: keys.users(tenant, day(0)) }),
      conn.send<number>(['PFCOUNT', keys.users(tenant, day(86_400_000))], {
        key: keys.users(tenant, day(86_400_000)),
      }),
    ])
    return {
      activeSessions: Number(active),
      activeUsers: Math.max(Number(today), Number(yesterday)),
      creations: Number(counts[0] ?? 0),
      revocations: Number(counts[1] ?? 0),
    }
  }

  /**
   * The tenant's live sessions as JSON lines (backup, moving between servers). Lines carry the handle, not
   * the id: restore them with the same `hashKey` and the cookies keep working.
   */
  async *export(scope: TenantScope): AsyncGenerator<string> {
    yield* exportSessions(this.#engine, checkTenant(scope?.tenant))
  }

  /**
   * Restores lines of `export()`, or migrates connect-redis sessions: a line `{"key":"sess:<sid>","value":…}`
   * (the key and the JSON value connect-redis stored; `value` as a string or an object) or `{"sid":…,"sess":…}`
   * becomes a session of `tenant` under the same sid, so express-session cookies keep working. Its idle
   * deadline comes from `cookie.expires` (else `idleTimeout`), its absolute one is `absoluteTimeout` from now,
   * `userId(sess)` puts it in a user's index. Expired or unreadable lines are counted as skipped.
   */
  import(
    lines: Iterable<string> | AsyncIterable<string>,
    options: ImportOptions = {},
  ): Promise<{ imported: number; skipped: number }> {
    return importSessions(this.#engine, this.#options, lines, options)
  }

  /** Stops using the manager (the connection stays open: it is the caller's). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#sweeper.stop()
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #evict(tenant: string, userId: string, max: number): Promise<void> {
    const idx = this.#engine.keys.user(tenant, userId)
    const count = Number(await this.#engine.conn.send(['ZCARD', idx], { key: idx }))
    if (count <= max) return
    const oldest = (
      await this.#engine.conn.send<string[]>(['ZRANGE', idx, '0', String(count - max - 1)], { key: idx })
    ).map(String)
    await Promise.all(oldest.map((h) => this.#engine.remove(tenant, h, 'max-per-user', userId)))
  }
}

function withId<T extends SessionData>(id: string, s: StoredSession): Session<T> {
  return {
    id,
    handle: s.handle,
    tenant: s.tenant,
    userId: s.userId,
    data: s.data as T,
    meta: s.meta,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    expiresAt: s.expiresAt,
    absoluteExpiresAt: s.absoluteExpiresAt,
    version: s.version,
  }
}

function fromFields(fields: Record<string, string>): SessionData {
  const data: SessionData = {}
  for (const [k, v] of Object.entries(fields)) data[k] = JSON.parse(v)
  return data
}
