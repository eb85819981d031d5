import { createHash, randomBytes } from 'node:crypto'
import { KeyedHash, Keyring } from '@cache/security'
import { ID_BYTES } from './defaults.js'

/**
 * The seam between sessions and the key material: "hash the id". Redis keys hold this hash (the handle),
 * never the id itself, so a leaked dump or MONITOR output cannot be replayed as a cookie.
 */
export type IdHasher = (id: string) => string

/** What the `hashKey` options accept: a secret (16+ characters or bytes) or a @cache/security KeyedHash. */
export type HashKey = string | Buffer | KeyedHash

/** Domain-separation labels of the keyed hashes (a KeyedHash `context`). */
export const HASH_CONTEXT = {
  session: '@cache/session id',
  otp: '@cache/session one-time code',
  refresh: '@cache/session refresh token',
} as const

/** The secret as the one key of a keyring, so that every keyed hash goes through security's KeyedHash. */
function fromSecret(secret: string | Buffer, context: string): KeyedHash {
  const key = createHash('sha256').update(secret).digest()
  return new KeyedHash(new Keyring({ keys: [{ id: 'hashKey', key, status: 'primary' }] }), { context })
}

/**
 * The full HMAC-SHA-256 (security's KeyedHash, base64url, 43 characters) of an id or a secret. The key is,
 * in order: `hashKey` (a KeyedHash used as it is, or a secret), the `keyring` (HMAC key derived from its
 * primary key at construction), else none: plain SHA-256, still one-way for random ids and tokens.
 */
export function keyedHasher(hashKey: HashKey | undefined, context: string, keyring?: Keyring): IdHasher {
  const keyed =
    hashKey instanceof KeyedHash
      ? hashKey
      : hashKey !== undefined
        ? fromSecret(hashKey, context)
        : keyring
          ? new KeyedHash(keyring, { context })
          : undefined
  if (!keyed) return (id) => createHash('sha256').update(id, 'utf8').digest('base64url')
  return (id) => keyed.digest(id).toString('base64url')
}

/** A new session id: 128 random bits, base64url (22 characters). */
export function newId(): string {
  return randomBytes(ID_BYTES).toString('base64url')
}
