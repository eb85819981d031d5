import { readCodecHeader } from '@cache/core'
import { readSealedHeader } from '@cache/security'

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

/**
 * Reads the header of a value written by an @cache codec (@cache/core's readCodecHeader), the encryption
 * codec (@cache/security's readSealedHeader), or neither. Decrypting would need the keyring: never done here.
 */
export function readHeader(bytes: Uint8Array): ValueHeader {
  const codec = readCodecHeader(bytes)
  if (codec) {
    const { version, format, compression, checksumOk } = codec
    const h: ValueHeader = { kind: 'codec', bytes: bytes.length, version, format, compression, checksumOk }
    if (!checksumOk) h.problem = 'checksum mismatch (corrupt value)'
    return h
  }
  const sealed = readSealedHeader(bytes)
  if (sealed) return { kind: 'encrypted', bytes: bytes.length, ...sealed }
  return { kind: 'foreign', bytes: bytes.length }
}
