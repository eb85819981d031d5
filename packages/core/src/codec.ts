import zlib from 'node:zlib'
import { parseOptions } from '@cache/client'
import { compressSync, uncompressSync } from 'lz4-napi'
import { Packr } from 'msgpackr'
import { z } from 'zod'
import { DEFAULT_COMPRESS_THRESHOLD, PKG } from './defaults.js'
import { DecodeError, EncodeError } from './errors.js'
import { packPlainView } from './msgpack-fast.js'
import { PLAIN_BAIL, unpackPlain } from './msgpack-read.js'

/** How values are serialised: MessagePack (default), JSON, or raw bytes/strings. */
export type CodecFormat = 'msgpack' | 'json' | 'raw'

/**
 * Where a value lives, passed by the caches to `encode`/`decode`: an encrypting codec (@cache/security)
 * binds the ciphertext to `key` (AAD), so a value copied to another key does not decode.
 */
export interface CodecContext {
  /** The full Redis key of the value. */
  readonly key?: string
  /**
   * The bytes were authenticated by an outer layer (an AES-GCM tag checked by @cache/security's
   * encryptionCodec): `decode` skips the CRC-32, which that tag makes redundant. Never set it for bytes
   * read from Redis as they are.
   */
  readonly authenticated?: boolean
}

/** Turns values into self-describing bytes and back. Any codec decodes what any other codec wrote. */
export interface Codec {
  /** The format this codec writes. */
  readonly format: CodecFormat
  /** Encodes a value. @throws EncodeError (E_ENCODE) when it cannot be encoded. */
  encode(value: unknown, ctx?: CodecContext): Buffer
  /** Decodes bytes written by any codec. @throws DecodeError (E_DECODE) for corrupt or foreign bytes. */
  decode(bytes: Uint8Array, ctx?: CodecContext): unknown
}

/** Options of `createCodec()`. */
export interface CodecOptions {
  /** Format of written values. @default 'msgpack' */
  format?: CodecFormat
  /** Values whose serialised form is at least this many bytes are LZ4-compressed; `false` never compresses. @default 1024 */
  compressThreshold?: number | false
}

/** First byte of every encoded value. */
export const CODEC_MAGIC = 0xca
/** Bytes before the payload: magic, flags, CRC-32 of flags and payload (big-endian). */
export const CODEC_HEADER_BYTES = 6
const VERSION = 0x10
const VERSION_MASK = 0xf0
const LZ4 = 0x08
const FORMAT_MASK = 0x07
const F_BYTES = 0
const F_STRING = 1
const F_JSON = 2
const F_MSGPACK = 3
const FORMAT_NAMES = [
  'bytes',
  'string',
  'JSON',
  'MessagePack',
  'format 4',
  'format 5',
  'format 6',
  'format 7',
]

/**
 * Plain msgpackr strings, not `bundleStrings`. Bundling gathers strings of 4 to 4,095 characters into one
 * block written and read by native UTF-8 calls instead of msgpackr's per-string `charCodeAt` loop (~5x
 * slower in any process that loads node-redis: docs/performance.md "The codec"); it made a 10 KiB
 * encode+decode 0.44x -> 0.61x of JSON, but a 74-byte object's decode 0.7-1.0 -> 2.7-2.9 us (measured
 * 2026-12-03), and small values are what a cache reads most (RedisCache get c=64 fell 0.88x -> 0.69x of raw
 * GET in the quiet bench). Every msgpackr unpacker reads bundles (extension 0x62), so values written by a
 * build that bundled still decode.
 */
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  int64AsType: 'auto',
} as never)
// msgpackr writes functions as undefined by default: a silent wrong value. Refuse them instead.
;(packr as unknown as { writeFunction: () => never }).writeFunction = () => {
  throw new TypeError('functions cannot be encoded')
}

/** CRC-32 tables for slicing by 8: table t maps a byte to its CRC shifted through t more zero bytes. */
const CRC_TABLE = (() => {
  const t = new Int32Array(256 * 8)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 256; k < 256 * 8; k += 256) {
      const prev = t[k - 256 + n] as number
      t[k + n] = (prev >>> 8) ^ (t[prev & 0xff] as number)
    }
  }
  return t
})()

/**
 * CRC-32 (IEEE) of `data`, continuing from `init`, in JavaScript, 8 bytes a step (slicing by 8): ~85 ns for
 * 100 bytes against ~170 ns for the N-API call of `zlib.crc32`, which wins from a few hundred bytes on.
 */
export function crc32Portable(data: Uint8Array, init = 0): number {
  return crcRange(data, init, 0, data.length)
}

/** crc32Portable of `data[start, end)` (no view to allocate). */
function crcRange(data: Uint8Array, init: number, start: number, end: number): number {
  const t = CRC_TABLE
  const n = end
  let c = ~init
  let i = start
  for (; i + 8 <= n; i += 8) {
    const a =
      c ^
      ((data[i] as number) |
        ((data[i + 1] as number) << 8) |
        ((data[i + 2] as number) << 16) |
        ((data[i + 3] as number) << 24))
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (data[i + 4] as number)] as number) ^
      (t[512 + (data[i + 5] as number)] as number) ^
      (t[256 + (data[i + 6] as number)] as number) ^
      (t[data[i + 7] as number] as number)
  }
  for (; i < n; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/** CRC-32 (IEEE) of `data`, continuing from `init`: native where Node has it (20.15+), else crc32Portable. */
export const crc32: (data: Uint8Array, init?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (zlib as unknown as { crc32: (d: Uint8Array, init?: number) => number }).crc32
    : crc32Portable

/** Payloads shorter than this are checked in JavaScript (cheaper than the native call at that size). */
const SMALL_CRC = 256

/** The stored check: CRC-32 over the flags byte and the payload, so a corrupt header is caught too. */
function check(flags: number, body: Uint8Array): number {
  const init = FLAG_CRC[flags] as number
  return body.length < SMALL_CRC ? crc32Portable(body, init) : crc32(body, init)
}
const FLAG_CRC = Array.from({ length: 256 }, (_, i) => crc32(Uint8Array.of(i)))

const codecSchema = z
  .object({
    format: z.enum(['msgpack', 'json', 'raw']).default('msgpack'),
    compressThreshold: z
      .union([z.literal(false), z.number().int().min(0, 'must be a non-negative integer or false')])
      .default(DEFAULT_COMPRESS_THRESHOLD),
  })
  .strict()

const PROTO_BYTES = Buffer.from('__proto__', 'latin1')
const hasOwn = Object.prototype.hasOwnProperty

/** True when `value` holds an object with an own "__proto__" key at any depth (bounded against cycles). */
export function hasProtoKey(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object' || depth > 256) return false
  if (value instanceof Map) {
    for (const [k, v] of value)
      if (k === '__proto__' || hasProtoKey(k, depth + 1) || hasProtoKey(v, depth + 1)) return true
    return false
  }
  if (value instanceof Set || Array.isArray(value)) {
    for (const v of value) if (hasProtoKey(v, depth + 1)) return true
    return false
  }
  if (ArrayBuffer.isView(value) || value instanceof Date) return false
  if (hasOwn.call(value, '__proto__')) return true
  for (const k of Object.keys(value))
    if (hasProtoKey((value as Record<string, unknown>)[k], depth + 1)) return true
  return false
}

/**
 * A serialised value: `body` is the payload; `framed`, when set, holds it after CODEC_HEADER_BYTES bytes
 * left free for the header (plain data written by packPlainView), and is the writer's scratch buffer: copied
 * once into the output when stored as it is, never when it is compressed.
 */
interface Serialised {
  flags: number
  body: Uint8Array
  framed?: Buffer
}

function serialise(format: CodecFormat, value: unknown): Serialised {
  if (value === undefined) throw new TypeError('undefined cannot be cached (a miss reads as undefined)')
  if (format === 'msgpack') {
    // Plain data through the native-UTF-8 writer (msgpackr's short-string loop is slowed by node-redis);
    // anything else through msgpackr itself.
    let framed = packPlainView(value, CODEC_HEADER_BYTES)
    let body = framed ? framed.subarray(CODEC_HEADER_BYTES) : packr.pack(value)
    // msgpackr decodes an own "__proto__" key as "__proto_" (prototype-pollution guard): a silent wrong
    // value. The byte search is native and almost always misses; only then is the value walked (after
    // copying the scratch bytes: a getter met on the walk may encode).
    if (body.includes(PROTO_BYTES)) {
      if (framed) {
        framed = Buffer.from(framed)
        body = framed.subarray(CODEC_HEADER_BYTES)
      }
      if (hasProtoKey(value, 0))
        throw new TypeError('an object key "__proto__" cannot be stored as MessagePack (use the json format)')
    }
    return framed ? { flags: F_MSGPACK, body, framed } : { flags: F_MSGPACK, body }
  }
  if (format === 'json') {
    const text = JSON.stringify(value)
    if (text === undefined) throw new TypeError(`${typeof value} has no JSON form`)
    return { flags: F_JSON, body: Buffer.from(text, 'utf8') }
  }
  if (typeof value === 'string') return { flags: F_STRING, body: Buffer.from(value, 'utf8') }
  if (value instanceof Uint8Array) return { flags: F_BYTES, body: value }
  throw new TypeError(`the raw format takes strings and byte arrays, got ${typeof value}`)
}

/**
 * Creates a codec. Every encoded value starts with a header — magic byte, flags (format and compression)
 * and a CRC-32 of the payload — so any reader decodes any writer's value, and corrupt or foreign bytes
 * fail with E_DECODE instead of decoding to a wrong value.
 * @example
 * const codec = createCodec({ format: 'json', compressThreshold: 4096 })
 * codec.decode(codec.encode({ a: 1 })) // { a: 1 }
 */
export function createCodec(options: CodecOptions = {}): Codec {
  const o = parseOptions(PKG, codecSchema, options, 'codec')
  const threshold = o.compressThreshold === false ? Number.POSITIVE_INFINITY : o.compressThreshold
  const format = o.format as CodecFormat
  return Object.freeze({
    format,
    encode(value: unknown): Buffer {
      let flags: number
      let body: Uint8Array
      let framed: Buffer | undefined
      try {
        ;({ flags, body, framed } = serialise(format, value))
      } catch (err) {
        if (err instanceof EncodeError) throw err
        throw new EncodeError(err instanceof Error ? err.message : String(err), { cause: err })
      }
      if (body.length >= threshold) {
        const packed = compressSync(
          Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length),
        )
        if (packed.length < body.length) {
          body = packed
          flags |= LZ4
          framed = undefined
        }
      }
      let out: Buffer
      if (framed) {
        out = Buffer.allocUnsafe(framed.length)
        framed.copy(out, 0, 0, framed.length)
      } else {
        out = Buffer.allocUnsafe(CODEC_HEADER_BYTES + body.length)
        out.set(body, CODEC_HEADER_BYTES)
      }
      out[0] = CODEC_MAGIC
      out[1] = VERSION | flags
      out.writeUInt32BE(check(out[1] as number, body), 2)
      return out
    },
    decode,
  })
}

/** What the header of an encoded value says (`readCodecHeader`), read without decoding the payload. */
export interface CodecHeader {
  /** Version of the layout (the high nibble of the flags byte). */
  version: number
  /** The payload's format: bytes, string, JSON, MessagePack (`format N` for an unknown one). */
  format: string
  /** LZ4 when the payload is compressed. */
  compression: 'none' | 'lz4'
  /** Whether the CRC-32 over flags and payload matches (false: a corrupt value, `decode` would refuse it). */
  checksumOk: boolean
  /** Bytes after the header. */
  payloadBytes: number
}

/**
 * Reads the header of bytes written by an @cache codec — format, compression, version, whether the checksum
 * holds — without decoding (or exposing) the value; undefined when the bytes are not one of ours.
 * @example
 * readCodecHeader(defaultCodec.encode({ a: 1 })) // { version: 1, format: 'MessagePack', compression: 'none', … }
 */
export function readCodecHeader(bytes: Uint8Array): CodecHeader | undefined {
  if (bytes.length < CODEC_HEADER_BYTES || bytes[0] !== CODEC_MAGIC) return undefined
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const flags = buf[1] as number
  const body = buf.subarray(CODEC_HEADER_BYTES)
  return {
    version: flags >> 4,
    format: FORMAT_NAMES[flags & FORMAT_MASK] as string,
    compression: flags & LZ4 ? 'lz4' : 'none',
    checksumOk: check(flags, body) === buf.readUInt32BE(2),
    payloadBytes: body.length,
  }
}

/**
 * Decodes bytes written by any codec; `ctx.authenticated` (bytes an AEAD tag already vouched for) skips the
 * CRC-32. @throws DecodeError (E_DECODE).
 */
export function decode(bytes: Uint8Array, ctx?: CodecContext): unknown {
  if (bytes.length < CODEC_HEADER_BYTES || bytes[0] !== CODEC_MAGIC) {
    throw new DecodeError('not written by an @cache codec (bad header)')
  }
  const flags = bytes[1] as number
  if ((flags & VERSION_MASK) !== VERSION) throw new DecodeError(`unknown codec version ${flags >> 4}`)
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  // The CRC over the bytes after the header in place (small payloads) or over a plain Uint8Array view, and
  // the reader reading `buf` from the header's end: a Buffer `subarray` per read cost ~0.1-0.4 us of a
  // 1.2-1.7 us decode of a 100-byte object.
  if (ctx?.authenticated !== true) {
    const n = buf.length - CODEC_HEADER_BYTES
    const init = FLAG_CRC[flags] as number
    const crc =
      n < SMALL_CRC
        ? crcRange(buf, init, CODEC_HEADER_BYTES, buf.length)
        : crc32(new Uint8Array(buf.buffer, buf.byteOffset + CODEC_HEADER_BYTES, n), init)
    if (crc !== buf.readUInt32BE(2)) throw new DecodeError('checksum mismatch (corrupt value)')
  }
  try {
    if ((flags & (LZ4 | FORMAT_MASK)) === F_MSGPACK) return unpack(buf, CODEC_HEADER_BYTES)
    let body: Buffer = buf.subarray(CODEC_HEADER_BYTES)
    if (flags & LZ4) body = uncompressSync(body)
    switch (flags & FORMAT_MASK) {
      case F_MSGPACK:
        return unpack(body, 0)
      case F_JSON:
        return JSON.parse(body.toString('utf8'))
      case F_STRING:
        return body.toString('utf8')
      case F_BYTES:
        return Buffer.from(body)
    }
  } catch {
    // The parser's message may quote the payload (JSON.parse does): errors never carry cached values.
    throw new DecodeError(
      `invalid ${FORMAT_NAMES[flags & FORMAT_MASK]}${flags & LZ4 ? ' (LZ4)' : ''} payload`,
    )
  }
  throw new DecodeError(`unknown format ${flags & FORMAT_MASK}`)
}

/**
 * MessagePack from `start` to the end of `buf`: plain data through our reader (no msgpackr set-up per fresh
 * Buffer), anything else, and anything malformed, through msgpackr as before.
 */
function unpack(buf: Buffer, start: number): unknown {
  const value = unpackPlain(buf, start, buf.length)
  return value !== PLAIN_BAIL ? value : packr.unpack(buf, { start, end: buf.length } as never)
}

/** The default codec: MessagePack, LZ4 from 1 KiB. */
export const defaultCodec: Codec = createCodec()
