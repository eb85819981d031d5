import { createHash, createHmac, randomBytes } from 'node:crypto'
import { ID_BYTES } from './defaults.js'

/**
 * The seam between sessions and the key material: "hash the id". Redis keys hold this hash (the handle),
 * never the id itself, so a leaked dump or MONITOR output cannot be replayed as a cookie.
 * With a `hashKey` it is HMAC-SHA-256 (a keyed hash); without one it is SHA-256, which is still one-way for
 * 128-bit random ids.
 */
export type IdHasher = (id: string) => string

/** HMAC-SHA-256 (or SHA-256 without a key) of the id, base64url: the session's handle. */
export function idHasher(hashKey?: string | Buffer): IdHasher {
  if (hashKey === undefined) return (id) => createHash('sha256').update(id, 'utf8').digest('base64url')
  return (id) => createHmac('sha256', hashKey).update(id, 'utf8').digest('base64url')
}

/** A new session id: 128 random bits, base64url (22 characters). */
export function newId(): string {
  return randomBytes(ID_BYTES).toString('base64url')
}
