import { CODEC_HEADER_BYTES, CODEC_MAGIC, crc32 } from '@cache/core'

/** What the header of a stored value says (no payload is decoded or printed). */
export interface ValueHeader {
  /** `codec` (@cache/core), `encrypted` (@cache/security), or `foreign` (not written by @cache). */
  kind: 'codec' | 'encrypted' | 'foreign'
  /** Bytes stored. */
  bytes: number
  /** codec: bytes, string, JSON, MessagePack. */
  format?: string
  /** codec: none or lz4. */
  compression?: 'none' | 'lz4'
  /** Version of the layout (codec: high nibble of the flags; encrypted: the version byte). */
  version?: number
  /** codec: whether the CRC-32 over flags and payload matches (false = corrupt). */
  checksumOk?: boolean
  /** encrypted: the keyring key id that sealed it (the key itself stays unknown). */
  keyId?: string
  /** Why a value that starts like one of ours is not readable. */
  problem?: string
}

const FORMATS = ['bytes', 'string', 'JSON', 'MessagePack']
const LZ4 = 0x08
// @cache/security's sealed layout (packages/security/src/format.ts): magic, version, key id length, key id,
// 12-byte nonce, ciphertext, 16-byte GCM tag. Only the header is read here; decrypting needs the keyring.
const CIPHER_MAGIC = 0xce
const NONCE_BYTES = 12
const TAG_BYTES = 16

/** Reads the header of a value written by an @cache codec, the encryption codec, or neither. */
export function readHeader(bytes: Uint8Array): ValueHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  if (buf[0] === CODEC_MAGIC && buf.length >= CODEC_HEADER_BYTES) {
    const flags = buf[1]!
    const body = buf.subarray(CODEC_HEADER_BYTES)
    const h: ValueHeader = {
      kind: 'codec',
      bytes: buf.length,
      version: flags >> 4,
      format: FORMATS[flags & 0x07] ?? `format ${flags & 0x07}`,
      compression: flags & LZ4 ? 'lz4' : 'none',
      checksumOk: crc32(body, crc32(Uint8Array.of(flags))) === buf.readUInt32BE(2),
    }
    if (!h.checksumOk) h.problem = 'checksum mismatch (corrupt value)'
    return h
  }
  if (buf[0] === CIPHER_MAGIC && buf.length >= 3) {
    const idLen = buf[2]!
    const end = 3 + idLen + NONCE_BYTES
    const h: ValueHeader = { kind: 'encrypted', bytes: buf.length, version: buf[1]! }
    if (idLen === 0 || buf.length < end + TAG_BYTES) h.problem = 'truncated'
    else h.keyId = buf.subarray(3, 3 + idLen).toString('utf8')
    return h
  }
  return { kind: 'foreign', bytes: buf.length }
}
