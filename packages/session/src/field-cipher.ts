import { type EncryptionCodec, encryptionCodec, type Keyring } from '@cache/security'

/**
 * Encryption at rest of the session fields (each data field and the meta), through @cache/security's
 * AES-256-GCM codec. A field's AAD is the full Redis key of its session plus the field name, so a value
 * copied to another session, or to another field of the same one, fails with E_DECRYPT instead of being read.
 * Values are stored base64 (hash fields reach the scripts as strings).
 */
export class FieldCipher {
  readonly #codec: EncryptionCodec

  constructor(keyring: Keyring) {
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
    return this.#codec.encode(json, { key: `${key}\n${field}` }).toString('base64')
  }

  /** The JSON of one field (E_DECRYPT, E_KEY_NOT_FOUND or E_KEY_DISABLED when it cannot be opened). */
  open(key: string, field: string, stored: string): string {
    return this.#codec.decode(Buffer.from(stored, 'base64'), { key: `${key}\n${field}` }) as string
  }
}
