import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { type Connection, type Duration, parseOptions, type ScriptFn, zDuration } from '@cache/client'
import { z } from 'zod'
import * as D from './defaults.js'
import { TokenInvalidError, TokenReusedError } from './errors.js'
import { HASH_CONTEXT, type HashKey, type IdHasher, keyedHasher } from './hash.js'
import { checkTenant, checkUser, zHashKey } from './options.js'
import { refreshIssue, refreshRotate } from './scripts/index.js'

/** diagnostics_channel `cache:session:token-reuse`: `{ familyId, tenant, userId }` when a family is revoked for reuse. */
export const tokenReuseChannel = diagnostics.channel('cache:session:token-reuse')

/** Options of `new RefreshTokens(conn, options)`. */
export interface RefreshTokensOptions {
  /** Key namespace under the connection's namespace. @default 'rt' */
  namespace?: string
  /** Absolute lifetime of a family (from `issue`); rotation never extends it. @default '30d' */
  ttl?: Duration
  /** A family not rotated for this long expires. @default '7d' */
  idleTimeout?: Duration
  /** How long the previous token is still accepted after a rotation (a client retry). @default '0s' */
  reuseInterval?: Duration
  /**
   * Key of the keyed hash (security's KeyedHash) tokens are stored as: a KeyedHash or a secret of 16+
   * characters or bytes. @default none: SHA-256 (tokens carry 256 random bits, so it is still one-way)
   */
  hashKey?: HashKey
}

const schema = z
  .object({
    namespace: z.string().min(1).max(128).default('rt'),
    ttl: zDuration({ min: 1, max: D.MAX_TIMEOUT_MS }).default(30 * 86_400_000),
    idleTimeout: zDuration({ min: 1, max: D.MAX_TIMEOUT_MS }).default(7 * 86_400_000),
    reuseInterval: zDuration({ min: 0, max: 3_600_000 }).default(0),
    hashKey: zHashKey.optional(),
  })
  .strict()

/** A token handed to a client, from `issue()` and `rotate()`. */
export interface IssuedToken {
  /** `<familyId>.<secret>`: give it to the client; Redis keeps only a hash. */
  token: string
  familyId: string
  tenant: string
  userId: string
  /** When the family expires unless rotated again (idle, capped by the absolute lifetime). */
  expiresAt: number
}

const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/
const FAMILY = /^[A-Za-z0-9_-]{22}$/
/**
 * How far a user-index score runs past the family's absolute deadline: the score is computed on this process'
 * clock (the deadline on the server's, in the issue script), so an index entry never goes before its family
 * unless the clocks differ by more than this.
 */
const INDEX_SLACK_MS = 5 * 60_000

/**
 * Refresh tokens with rotation and reuse detection: each `rotate` exchanges the current token for a new one in
 * one Lua call (two parallel rotations of one token: exactly one wins); presenting a rotated token again
 * outside `reuseInterval` revokes the whole family (E_TOKEN_REUSED, `cache:session:token-reuse`).
 * @example
 * const refresh = new RefreshTokens(conn, { ttl: '30d', idleTimeout: '7d' })
 * const { token } = await refresh.issue({ tenant: 't1', userId: 'u42' })
 * const next = await refresh.rotate(token)
 */
export class RefreshTokens {
  readonly #options: z.output<typeof schema>
  readonly #conn: Connection
  readonly #digest: IdHasher
  readonly #issue: ScriptFn<[number, number]>
  readonly #rotate: ScriptFn<[number, ...Array<number | string>]>

  constructor(conn: Connection, options: RefreshTokensOptions = {}) {
    this.#options = parseOptions(D.PKG, schema, options)
    this.#conn = conn
    this.#digest = keyedHasher(this.#options.hashKey, HASH_CONTEXT.refresh)
    this.#issue = conn.defineScript('session:refresh-issue', refreshIssue, { keys: 1 })
    this.#rotate = conn.defineScript('session:refresh-rotate', refreshRotate, { keys: 1 })
  }

  #key(familyId: string): string {
    return this.#conn.keys.child(this.#options.namespace).tagged(familyId)
  }

  /**
   * The user's index of families: zset familyId -> an upper bound of its absolute deadline, tagged by the user
   * (one slot per user in a Cluster; each family key is in a slot of its own, so index and family are written
   * by separate commands in the same round trip, never one CROSSSLOT call).
   */
  #userKey(tenant: string, userId: string): string {
    return this.#conn.keys.child(this.#options.namespace, 't', tenant, 'u').tagged(userId)
  }

  /** Starts a family for a user and returns its first token. */
  async issue(input: { tenant: string; userId: string }): Promise<IssuedToken> {
    const tenant = checkTenant(input?.tenant)
    const userId = checkUser(input.userId)
    const familyId = randomBytes(16).toString('base64url')
    const secret = randomBytes(32).toString('base64url')
    const idx = this.#userKey(tenant, userId)
    const now = Date.now()
    const until = String(now + this.#options.ttl + INDEX_SLACK_MS)
    const send = (cmd: string[]) => this.#conn.send(cmd, { key: idx })
    // The index entry goes with the family (same round trip), and families past their absolute deadline
    // leave it here: the index holds the user's families of the last `ttl`, not every one ever issued.
    const [[, expiresAt]] = await Promise.all([
      this.#issue(
        [this.#key(familyId)],
        [tenant, userId, this.#digest(secret), this.#options.ttl, this.#options.idleTimeout],
      ),
      send(['ZADD', idx, until, familyId]),
      send(['ZREMRANGEBYSCORE', idx, '-inf', String(now - INDEX_SLACK_MS)]),
      // NX gives a new index its first expiry, GT then only extends it (it lives as long as its last family).
      send(['PEXPIREAT', idx, until, 'NX']).then(() => send(['PEXPIREAT', idx, until, 'GT'])),
    ])
    return { token: `${familyId}.${secret}`, familyId, tenant, userId, expiresAt: Number(expiresAt) }
  }

  /** Exchanges a token for the next one (E_TOKEN_REUSED on reuse, E_TOKEN_INVALID when unknown or expired). */
  async rotate(token: string): Promise<IssuedToken> {
    const m = typeof token === 'string' ? TOKEN.exec(token) : null
    if (!m) throw new TokenInvalidError('is malformed')
    const familyId = m[1]!
    const secret = randomBytes(32).toString('base64url')
    const reply = await this.#rotate(
      [this.#key(familyId)],
      [this.#digest(m[2]!), this.#digest(secret), this.#options.reuseInterval],
    )
    const status = Number(reply[0])
    if (status === -1) throw new TokenInvalidError('is unknown, expired or revoked')
    if (status === 0) {
      tokenReuseChannel.publish({ familyId, tenant: String(reply[1]), userId: String(reply[2]) })
      throw new TokenReusedError(familyId)
    }
    return {
      token: `${familyId}.${secret}`,
      familyId,
      tenant: String(reply[3]),
      userId: String(reply[4]),
      expiresAt: Number(reply[2]),
    }
  }

  /** Revokes a family (logout of one device): every token of it is invalid from now on; false when it was not there. */
  async revokeFamily(familyId: string): Promise<boolean> {
    if (typeof familyId !== 'string' || !FAMILY.test(familyId)) {
      throw new TokenInvalidError('family id is malformed')
    }
    const key = this.#key(familyId)
    const [tenant, userId] = await this.#conn.send<Array<string | null>>(['HMGET', key, 't', 'u'], { key })
    const deleted = Number(await this.#conn.send(['DEL', key], { key })) === 1
    if (tenant != null && userId != null) {
      const idx = this.#userKey(String(tenant), String(userId))
      await this.#conn.send(['ZREM', idx, familyId], { key: idx })
    }
    return deleted
  }

  /** Same as `revokeFamily`. */
  revoke(familyId: string): Promise<boolean> {
    return this.revokeFamily(familyId)
  }

  /**
   * Revokes every token family of a user ("log out everywhere" for refresh tokens): a later `rotate` of any
   * of their tokens fails with E_TOKEN_INVALID. Reads the user's index, O(that user's families), never a
   * SCAN; cluster-safe (one command per key). A family issued while this runs may survive it (revoke after
   * the change that should stop new logins, e.g. a password reset). How many families were revoked.
   */
  async revokeUser(tenant: string, userId: string): Promise<number> {
    checkTenant(tenant)
    checkUser(userId)
    const idx = this.#userKey(tenant, userId)
    const families = (await this.#conn.send<string[]>(['ZRANGE', idx, '0', '-1'], { key: idx })).map(String)
    if (families.length === 0) return 0
    const deleted = await Promise.all(
      families.map((f) => {
        const key = this.#key(f)
        return this.#conn.send<number>(['DEL', key], { key })
      }),
    )
    // ZREM of what was read, not DEL of the index: a family issued meanwhile keeps its entry.
    await this.#conn.send(['ZREM', idx, ...families], { key: idx })
    return deleted.reduce((n: number, d) => n + Number(d), 0)
  }

  /** Idempotent; the connection stays open (it is the caller's). */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
