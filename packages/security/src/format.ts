import { CIPHER_MAGIC, CIPHER_VERSION, NONCE_BYTES, TAG_BYTES } from './defaults.js'

/** Header: magic, version, key id length, key id, nonce. Returns the offset of the ciphertext. */
export function parseHeader(bytes: Uint8Array): { keyId: string; headerEnd: number } | string {
  if (bytes.length < 3) return 'truncated'
  if (bytes[0] !== CIPHER_MAGIC) return 'not an encrypted value'
  if (bytes[1] !== CIPHER_VERSION) return `unknown format version ${bytes[1]}`
  const idLen = bytes[2]!
  const headerEnd = 3 + idLen + NONCE_BYTES
  if (idLen === 0 || bytes.length < headerEnd + TAG_BYTES) return 'truncated'
  const keyId = Buffer.from(bytes.buffer, bytes.byteOffset + 3, idLen).toString('utf8')
  return { keyId, headerEnd }
}

/** The key id written in an encrypted value, or undefined when `bytes` is not one. */
export function keyIdOf(bytes: Uint8Array): string | undefined {
  const parsed = parseHeader(bytes)
  return typeof parsed === 'string' ? undefined : parsed.keyId
}

/** What the header of a sealed (encrypted) value says (`readSealedHeader`): never the key or the plaintext. */
export interface SealedHeader {
  /** The layout version byte. */
  version: number
  /** The keyring key id that sealed it. */
  keyId?: string
  /** Why a value that starts like a sealed one cannot be opened (truncated, unknown version). */
  problem?: string
}

/**
 * Reads the header of a value sealed by the encryption codec (layout version and key id) without a keyring;
 * undefined when the bytes do not start like a sealed value.
 * @example
 * readSealedHeader(await redis.get(key)) // { version: 1, keyId: 'k2026' }
 */
export function readSealedHeader(bytes: Uint8Array): SealedHeader | undefined {
  if (bytes.length < 2 || bytes[0] !== CIPHER_MAGIC) return undefined
  const parsed = parseHeader(bytes)
  const version = bytes[1] as number
  return typeof parsed === 'string' ? { version, problem: parsed } : { version, keyId: parsed.keyId }
}
