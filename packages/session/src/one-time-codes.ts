import { randomInt } from 'node:crypto'
import {
  type Connection,
  type Duration,
  InvalidArgumentError,
  parseOptions,
  type ScriptFn,
  zDuration,
} from '@cache/client'
import { z } from 'zod'
import * as D from './defaults.js'
import { CodeLockedError, CodeThrottledError } from './errors.js'
import { HASH_CONTEXT, type HashKey, type IdHasher, keyedHasher } from './hash.js'
import { zHashKey } from './options.js'
import { otpIssue, otpVerify } from './scripts/index.js'

/** Options of `new OneTimeCodes(conn, options)`. */
export interface OneTimeCodesOptions {
  /** Key namespace under the connection's namespace. @default 'otp' */
  namespace?: string
  /** How long a code is valid. @default '5m' */
  ttl?: Duration
  /** Wrong codes before the subject is locked (counted in Redis, across processes). @default 5 */
  maxAttempts?: number
  /** How long a subject stays locked after maxAttempts wrong codes. @default '15m' */
  lockTimeout?: Duration
  /** Digits of a code. @default 6 */
  digits?: number
  /** Minimum time between two codes for one subject. @default '30s' */
  resendInterval?: Duration
  /**
   * Key of the keyed hash (security's KeyedHash) codes are stored as: a KeyedHash or a secret of 16+
   * characters or bytes. Set one: without it the hash is unkeyed SHA-256 (a dump of Redis then allows
   * guessing a code offline within its ttl). @default none
   */
  hashKey?: HashKey
}

const schema = z
  .object({
    namespace: z.string().min(1).max(128).default('otp'),
    ttl: zDuration({ min: 1000, max: 86_400_000 }).default(300_000),
    maxAttempts: z.number().int().min(1).max(100).default(5),
    lockTimeout: zDuration({ min: 1, max: 86_400_000 }).default(900_000),
    digits: z.number().int().min(4).max(12).default(6),
    resendInterval: zDuration({ min: 0, max: 86_400_000 }).default(30_000),
    hashKey: zHashKey.optional(),
  })
  .strict()

/**
 * One-time codes (email/SMS login, step-up): stored as a keyed hash, single use, expiring, throttled on
 * resend, and locked after `maxAttempts` wrong codes counted in Redis (so across processes).
 * @example
 * const otp = new OneTimeCodes(conn, { ttl: '5m', maxAttempts: 5, hashKey: process.env.OTP_KEY })
 * const code = await otp.issue('login:u42')
 * await otp.verify('login:u42', code) // true once
 */
export class OneTimeCodes {
  readonly #options: z.output<typeof schema>
  readonly #conn: Connection
  readonly #hasher: IdHasher
  readonly #issue: ScriptFn<[number, number]>
  readonly #verify: ScriptFn<[number, number?]>

  constructor(conn: Connection, options: OneTimeCodesOptions = {}) {
    this.#options = parseOptions(D.PKG, schema, options)
    this.#conn = conn
    this.#hasher = keyedHasher(this.#options.hashKey, HASH_CONTEXT.otp)
    this.#issue = conn.defineScript('session:otp-issue', otpIssue, { keys: 3 })
    this.#verify = conn.defineScript('session:otp-verify', otpVerify, { keys: 3 })
  }

  #keys(subject: unknown): string[] {
    if (typeof subject !== 'string' || subject.length < 1 || subject.length > 256) {
      throw new InvalidArgumentError(D.PKG, 'subject', 'must be a string of 1-256 characters')
    }
    const base = this.#conn.keys.child(this.#options.namespace).tagged(subject)
    return [base, `${base}:resend`, `${base}:lock`]
  }

  #hash(subject: string, code: string): string {
    return this.#hasher(`${subject}\n${code}`)
  }

  /** A new code for `subject` (send it to the user); E_OTP_THROTTLED or E_OTP_LOCKED when refused. */
  async issue(subject: string): Promise<string> {
    const keys = this.#keys(subject)
    const code = String(randomInt(0, 10 ** this.#options.digits)).padStart(this.#options.digits, '0')
    const [status, ms] = await this.#issue(keys, [
      this.#hash(subject, code),
      this.#options.ttl,
      this.#options.resendInterval,
    ])
    if (Number(status) === -2) throw new CodeLockedError(Number(ms))
    if (Number(status) === -1) throw new CodeThrottledError(Number(ms))
    return code
  }

  /** True once for the right code; false for a wrong, used or expired one; E_OTP_LOCKED after too many. */
  async verify(subject: string, input: string): Promise<boolean> {
    const keys = this.#keys(subject)
    if (typeof input !== 'string' || input.length > 64) {
      throw new InvalidArgumentError(D.PKG, 'input', 'must be a string of at most 64 characters')
    }
    const [status, ms] = await this.#verify(keys, [
      this.#hash(subject, input),
      this.#options.maxAttempts,
      this.#options.lockTimeout,
    ])
    if (Number(status) === -2) throw new CodeLockedError(Number(ms))
    return Number(status) === 1
  }

  /** Idempotent; the connection stays open (it is the caller's). */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
