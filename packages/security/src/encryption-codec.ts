import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { isCacheError } from '@cache/client'
import { type Codec, createCodec } from '@cache/core'
import { AAD_SCRATCH_BYTES, CIPHER_MAGIC, CIPHER_VERSION, NONCE_BYTES, TAG_BYTES } from './defaults.js'
import { DecryptError } from './errors.js'
import { parseHeader } from './format.js'
import type { Keyring } from './keyring.js'

/** What a codec knows about the value it handles: the full Redis key binds the ciphertext to it (AAD). */
export interface CodecContext {
  /** The full Redis key the value is stored under. */
  readonly key?: string
  /** Set by this codec for its inner codec: the bytes passed the tag check (the CRC is skipped). */
  readonly authenticated?: boolean
}

/** Options of `encryptionCodec()`. */
export interface EncryptionCodecOptions {
  /** The codec that serialises values before encryption. @default createCodec() (MessagePack, LZ4 above 1 KiB) */
  inner?: Codec
  /**
   * Decode values written by a plain (unencrypted) codec instead of refusing them with E_DECRYPT: only
   * for migrating a namespace to encryption, then turn it off. @default false
   */
  readPlaintext?: boolean
}

/** A Codec that encrypts; `encrypted: true` marks it for data classification checks. */
export interface EncryptionCodec extends Codec {
  /** Always true. */
  readonly encrypted: true
  /** The keyring it encrypts with (its primary) and decrypts with. */
  readonly keyring: Keyring
  /** Encodes and encrypts under the primary key; `ctx.key` is bound as additional authenticated data. */
  encode(value: unknown, ctx?: CodecContext): Buffer
  /** Authenticates and decrypts (E_DECRYPT, E_KEY_NOT_FOUND, E_KEY_DISABLED), then decodes. */
  decode(bytes: Uint8Array, ctx?: CodecContext): unknown
  /** @internal Encryptions per key id since the last call (read and reset by `KeyUsageCounter`). */
  takeEncryptionCounts(): Map<string, number>
  /** @internal Gives back counts that could not be stored. */
  returnEncryptionCounts(counts: Map<string, number>): void
  /** The key id a stored value was encrypted with, or undefined when it is not an encrypted value. */
  keyIdOf(bytes: Uint8Array): string | undefined
}

const PLAIN_MAGIC = 0xca
/** Passed to the inner codec's decode: the bytes passed AES-GCM's tag check. */
const AUTHENTICATED = Object.freeze({ authenticated: true })
/** The cipher options of every call (node:crypto only reads them): one object, not one per value. */
const GCM = Object.freeze({ authTagLength: TAG_BYTES })

/**
 * Random nonces drawn from a pool refilled 4 KiB at a time: one `randomBytes` call per 341 encryptions
 * instead of one each (the call costs more than the AES-GCM of a small value). The pool is never reused,
 * so nonces are exactly as random as single draws.
 */
const POOL_BYTES = 4092
let pool = Buffer.alloc(0)
let poolOffset = 0
function nonceInto(target: Buffer, offset: number): void {
  if (poolOffset + NONCE_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES)
    poolOffset = 0
  }
  // Byte by byte: 12 bytes cost less than the view Buffer#copy and #fill would make per call. What was handed
  // out is wiped, so a later leak of the pool never reveals past nonces' source bytes.
  for (let i = 0; i < NONCE_BYTES; i++) {
    target[offset + i] = pool[poolOffset + i] as number
    pool[poolOffset + i] = 0
  }
  poolOffset += NONCE_BYTES
}

/**
 * An AES-256-GCM codec over a keyring. Layout: `0xce`, version, key id length, key id, 12-byte random
 * nonce, ciphertext, 16-byte tag. The header and the full Redis key (`ctx.key`) are authenticated, so any
 * edited byte, truncation, extension or a value copied to another key fails with E_DECRYPT — never a wrong value.
 *
 * @example
 * const codec = encryptionCodec(keyring)
 * new RedisCache(conn, { namespace: 'pii', codec })
 */
export function encryptionCodec(keyring: Keyring, options: EncryptionCodecOptions = {}): EncryptionCodec {
  const inner = options.inner ?? createCodec()
  const readPlaintext = options.readPlaintext === true

  // The cipher's small inputs (nonce, tag, AAD) go through scratch buffers of this codec: node:crypto copies
  // them into the native context during the call (initiv, setAuthTag, setAAD), so one buffer serves every
  // value and a decode allocates no nonce, tag or AAD buffer of its own (only the ciphertext view).
  const nonce = Buffer.alloc(NONCE_BYTES)
  const tag = Buffer.alloc(TAG_BYTES)
  let scratch = Buffer.alloc(AAD_SCRATCH_BYTES)
  // views[n] = the first n bytes of scratch, made once per length (setAAD takes a view of the exact length).
  let views: Buffer[] = []
  // header || utf-8 key, written into the scratch: a view of it, valid until the next call.
  const aad = (value: Uint8Array, headerEnd: number, ctx: CodecContext | undefined): Buffer => {
    const key = ctx?.key ?? ''
    // A UTF-16 code unit is at most 3 bytes of UTF-8: grow the scratch before writing, never truncate.
    const most = headerEnd + key.length * 3
    if (most > scratch.length) {
      scratch = Buffer.alloc(Math.max(most, scratch.length * 2))
      views = []
    }
    for (let i = 0; i < headerEnd; i++) scratch[i] = value[i] as number
    const n = headerEnd + (key.length === 0 ? 0 : scratch.write(key, headerEnd, 'utf8'))
    let view = views[n]
    if (view === undefined) {
      view = scratch.subarray(0, n)
      views[n] = view
    }
    return view
  }
  // The key id of the last value decoded: most values carry the primary's, so the id is compared as bytes
  // instead of being decoded into a new string each time.
  let lastId = ''
  let lastIdBytes = Buffer.alloc(0)
  const keyIdAt = (buf: Buffer, idLen: number): string => {
    if (idLen === lastIdBytes.length) {
      let same = true
      for (let i = 0; i < idLen; i++)
        if (buf[3 + i] !== lastIdBytes[i]) {
          same = false
          break
        }
      if (same) return lastId
    }
    lastId = buf.toString('utf8', 3, 3 + idLen)
    lastIdBytes = Buffer.from(buf.subarray(3, 3 + idLen))
    return lastId
  }

  let counts = new Map<string, number>()
  const idBytesOf = new Map<string, Buffer>()

  return Object.freeze({
    format: inner.format,
    encrypted: true as const,
    keyring,
    encode(value: unknown, ctx?: CodecContext): Buffer {
      const plain = inner.encode(value)
      const { id, secret } = keyring.primarySecret()
      counts.set(id, (counts.get(id) ?? 0) + 1)
      let idBytes = idBytesOf.get(id)
      if (!idBytes) {
        idBytes = Buffer.from(id, 'utf8')
        idBytesOf.set(id, idBytes)
      }
      // One output buffer: header, then the ciphertext (as long as the plaintext in GCM), then the tag.
      const headerEnd = 3 + idBytes.length + NONCE_BYTES
      const out = Buffer.allocUnsafe(headerEnd + plain.length + TAG_BYTES)
      out[0] = CIPHER_MAGIC
      out[1] = CIPHER_VERSION
      out[2] = idBytes.length
      idBytes.copy(out, 3)
      nonceInto(nonce, 0)
      for (let i = 0; i < NONCE_BYTES; i++) out[3 + idBytes.length + i] = nonce[i] as number
      const cipher = createCipheriv('aes-256-gcm', secret, nonce, GCM)
      cipher.setAAD(aad(out, headerEnd, ctx))
      cipher.update(plain).copy(out, headerEnd)
      cipher.final()
      cipher.getAuthTag().copy(out, headerEnd + plain.length)
      return out
    },
    decode(bytes: Uint8Array, ctx?: CodecContext): unknown {
      // Header checks inline (parseHeader's rules): this is the hot path of every encrypted read.
      const idLen = bytes[2] ?? 0
      const headerEnd = 3 + idLen + NONCE_BYTES
      if (
        bytes[0] !== CIPHER_MAGIC ||
        bytes[1] !== CIPHER_VERSION ||
        idLen === 0 ||
        bytes.length < headerEnd + TAG_BYTES
      ) {
        const problem = parseHeader(bytes)
        if (readPlaintext && bytes[0] === PLAIN_MAGIC) return inner.decode(bytes)
        throw new DecryptError(typeof problem === 'string' ? problem : 'truncated')
      }
      const buf = Buffer.isBuffer(bytes)
        ? bytes
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const keyId = keyIdAt(buf, idLen)
      const secret = keyring.decryptSecret(keyId)
      const tagStart = buf.length - TAG_BYTES
      for (let i = 0; i < NONCE_BYTES; i++) nonce[i] = buf[headerEnd - NONCE_BYTES + i] as number
      for (let i = 0; i < TAG_BYTES; i++) tag[i] = buf[tagStart + i] as number
      const decipher = createDecipheriv('aes-256-gcm', secret, nonce, GCM)
      decipher.setAAD(aad(buf, headerEnd, ctx))
      decipher.setAuthTag(tag)
      let plain: Buffer
      try {
        // GCM's final() adds no bytes: it checks the tag; the plaintext is used only once it passed.
        plain = decipher.update(buf.subarray(headerEnd, tagStart))
        decipher.final()
      } catch (err) {
        throw new DecryptError('authentication failed', { keyId }, err)
      }
      try {
        // The tag vouched for every byte: the inner codec's CRC would check them a second time.
        return inner.decode(plain, AUTHENTICATED)
      } catch (err) {
        // Authenticated bytes that do not decode: written by a codec with another format; keep the inner code.
        if (isCacheError(err)) throw err
        throw new DecryptError('inner codec failed', { keyId }, err)
      }
    },
    takeEncryptionCounts(): Map<string, number> {
      const out = counts
      counts = new Map()
      return out
    },
    returnEncryptionCounts(back: Map<string, number>): void {
      for (const [id, n] of back) counts.set(id, (counts.get(id) ?? 0) + n)
    },
    keyIdOf(bytes: Uint8Array): string | undefined {
      const parsed = parseHeader(bytes)
      return typeof parsed === 'string' ? undefined : parsed.keyId
    },
  })
}

/** True when `codec` encrypts (an `encryptionCodec`). */
export function isEncryptingCodec(codec: unknown): codec is EncryptionCodec {
  return typeof codec === 'object' && codec !== null && (codec as { encrypted?: unknown }).encrypted === true
}
