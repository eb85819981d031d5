import { type EncryptionCodec, encryptionCodec, type Keyring } from '@cache/security'
import { BoundedMap } from './bounded-map.js'

/** Opened fields remembered, and the largest stored value remembered (longer ones are opened every time). */
const OPENED_MAX = 10_000
const OPENED_MAX_CHARS = 4096

/**
 * Encryption at rest of the session fields (each data field and the meta), through @cache/security's
 * AES-256-GCM codec. A field's AAD is the full Redis key of its session plus the field name, so a value
 * copied to another session, or to another field of the same one, fails with E_DECRYPT instead of being read.
 * Values are stored base64 (hash fields reach the scripts as strings).
 *
 * A session is read on every request and most of its fields do not change between requests: the JSON of
 * recently opened or sealed values is remembered by (session key, field, ciphertext), so an unchanged field
 * is authenticated and decrypted once, not per request. The same ciphertext under the same key and field is
 * the same plaintext, so this answers what decryption would, as long as the key that sealed it is not
 * disabled (checked on every hit).
 */
export class FieldCipher {
  readonly #codec: EncryptionCodec
  readonly #keyring: Keyring
  readonly #opened = new BoundedMap<string, { json: string; keyId: string }>(OPENED_MAX)

  constructor(keyring: Keyring) {
    this.#keyring = keyring
    this.#codec = encryptionCodec(keyring, {
      inner: {
        format: 'raw',
        encode: (value: unknown) => Buffer.from(value as string, 'utf8'),
        decode: (bytes: Uint8Array) =>
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
      },
    })
  }

  /** The ciphertext (base64) of one field's JSON. */
  seal(key: string, field: string, json: string): string {
    const stored = this.#codec.encode(json, { key: `${key}\n${field}` }).toString('base64')
    this.#remember(key, field, stored, json, this.#keyring.primaryId)
    return stored
  }

  /**
   * The JSON of one field (E_DECRYPT, E_KEY_NOT_FOUND or E_KEY_DISABLED when it cannot be opened); the id of
   * the key that sealed it goes into `keyIds` when given (see `usable`).
   */
  open(key: string, field: string, stored: string, keyIds?: string[]): string {
    const id = `${key}\n${field}\n${stored}`
    const hit = this.#opened.get(id)
    if (hit) {
      if (this.#usable(hit.keyId)) {
        if (keyIds && !keyIds.includes(hit.keyId)) keyIds.push(hit.keyId)
        return hit.json
      }
      this.#opened.delete(id)
    }
    const bytes = Buffer.from(stored, 'base64')
    const json = this.#codec.decode(bytes, { key: `${key}\n${field}` }) as string
    const keyId = this.#codec.keyIdOf(bytes)
    if (keyId !== undefined) {
      this.#remember(key, field, stored, json, keyId)
      if (keyIds && !keyIds.includes(keyId)) keyIds.push(keyId)
    }
    return json
  }

  /** Whether what these keys sealed still opens (each one primary or enabled), as `open` would check. */
  usable(keyIds: readonly string[]): boolean {
    for (const id of keyIds) if (!this.#usable(id)) return false
    return true
  }

  #usable(keyId: string): boolean {
    const status = this.#keyring.status(keyId)
    return status === 'primary' || status === 'enabled'
  }

  #remember(key: string, field: string, stored: string, json: string, keyId: string): void {
    if (stored.length > OPENED_MAX_CHARS) return
    this.#opened.set(`${key}\n${field}\n${stored}`, { json, keyId })
  }
}
