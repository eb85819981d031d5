import {
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  timingSafeEqual as timingSafe,
} from 'node:crypto'
import { inspect } from 'node:util'
import { InvalidArgumentError, InvalidOptionError } from '@cache/client'
import { PKG } from './defaults.js'
import type { Keyring } from './keyring.js'

/** Options of `new KeyedHash()`. */
export interface KeyedHashOptions {
  /** The key to hash with. Pin it: hashes change with the key. @default the keyring's primary at construction */
  keyId?: string
  /** Bytes of the HMAC kept in `part()` (16–32). @default 16 (128 bits, 22 base64url chars) */
  length?: number
  /** Domain separation label: two KeyedHash with different contexts give unrelated hashes. @default 'key-part' */
  context?: string
}

/**
 * HMAC-SHA-256 of sensitive key parts (emails, phone numbers) so that Redis keys, logs and SCAN output
 * never show them, while equal inputs still give equal keys. The HMAC key is derived from a keyring key
 * (HKDF), never the encryption key itself.
 *
 * @example
 * const hash = new KeyedHash(keyring)
 * conn.keys.build('user', hash.part('alice@example.com'))
 */
export class KeyedHash {
  readonly #secret: KeyObject
  readonly #length: number
  /** The keyring key id the hashes are made with. */
  readonly keyId: string

  constructor(keyring: Keyring, options: KeyedHashOptions = {}) {
    const length = options.length ?? 16
    if (!Number.isInteger(length) || length < 16 || length > 32)
      throw new InvalidOptionError(PKG, 'length', `must be an integer from 16 to 32, got ${String(length)}`)
    const context = options.context ?? 'key-part'
    if (typeof context !== 'string' || context.length === 0)
      throw new InvalidOptionError(PKG, 'context', 'must be a non-empty string')
    this.keyId = options.keyId ?? keyring.primaryId
    const base = keyring.secretOf(this.keyId).export()
    const derived = Buffer.from(
      hkdfSync('sha256', base, Buffer.alloc(0), `@cache/security keyed-hash ${context}`, 32),
    )
    this.#secret = createSecretKey(derived)
    this.#length = length
  }

  /** The full 32-byte HMAC-SHA-256 of `input`. */
  digest(input: string | Uint8Array): Buffer {
    if (typeof input !== 'string' && !(input instanceof Uint8Array))
      throw new InvalidArgumentError(PKG, 'input', 'must be a string or bytes')
    return createHmac('sha256', this.#secret).update(input).digest()
  }

  /** A key part: the HMAC truncated to `length` bytes, base64url (safe in keys: no `:`, `{`, `}`). */
  part(input: string | Uint8Array): string {
    return this.digest(input).subarray(0, this.#length).toString('base64url')
  }

  /** Constant-time check that `part` is the key part of `input`. */
  matches(input: string | Uint8Array, part: string): boolean {
    const expected = Buffer.from(this.part(input))
    const got = Buffer.from(part)
    return expected.length === got.length && timingSafe(expected, got)
  }

  toString(): string {
    return `KeyedHash(${this.keyId})`
  }

  toJSON(): { keyId: string } {
    return { keyId: this.keyId }
  }

  [inspect.custom](): string {
    return this.toString()
  }
}
