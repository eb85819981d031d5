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

  /** Starts a family for a user and returns its first token. */
  async issue(input: { tenant: string; userId: string }): Promise<IssuedToken> {
    const tenant = checkTenant(input?.tenant)
    const userId = checkUser(input.userId)
    const familyId = randomBytes(16).toString('base64url')
    const secret = randomBytes(32).toString('base64url')
    const [, expiresAt] = await this.#issue(
      [this.#key(familyId)],
      [tenant, userId, this.#digest(secret), this.#options.ttl, this.#options.idleTimeout],
    )
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

  /** Revokes a family (logout); false when it was not there. */
  async revoke(familyId: string): Promise<boolean> {
    if (typeof familyId !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(familyId)) {
      throw new TokenInvalidError('family id is malformed')
    }
    const key = this.#key(familyId)
    return Number(await this.#conn.send(['DEL', key], { key })) === 1
  }

  /** Idempotent; the connection stays open (it is the caller's). */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
