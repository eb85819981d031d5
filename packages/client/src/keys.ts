import { createHash } from 'node:crypto'
import { InvalidOptionError } from './errors.js'
import { PKG } from './pkg.js'

/** A part of a key: strings are escaped, numbers and bigints are written as decimals. */
export type KeyPart = string | number | bigint

/** Parts longer than this (after escaping) are replaced by a hash. */
export const MAX_KEY_PART_LENGTH = 128
const SAFE = /^[A-Za-z0-9._\-@/=+,;!$&()']*$/
const UNSAFE = /[^A-Za-z0-9._\-@/=+,;!$&()']/gu
/** Safe characters and `:`, the one separator most keys hold (`user:42`): escaped by one native replace. */
const SAFE_AND_COLONS = /^[A-Za-z0-9._\-@/=+,;!$&()':]*$/
const ASCII_SAFE = new Uint8Array(128)
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@/=+,;!$&()'") {
  ASCII_SAFE[ch.charCodeAt(0)] = 1
}
const HEX = '0123456789ABCDEF'
const escaped = new Map<string, string>()

/** Percent-encodes one character's UTF-8 bytes (memoised for the first 4,096 distinct characters). */
function escapeChar(ch: string): string {
  let out = escaped.get(ch)
  if (out === undefined) {
    out = ''
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    if (escaped.size < 4096) escaped.set(ch, out)
  }
  return out
}

function hashed(s: string): string {
  return `#${createHash('sha256').update(s, 'utf8').digest('base64url').slice(0, 22)}`
}

/**
 * Escapes one key part so that no user input can forge a separator (`:`), a cluster hash tag (`{}`), a
 * glob character or a hashed part (`#`): every other character is percent-encoded, which is one-to-one, so
 * distinct parts always give distinct keys. Parts longer than MAX_KEY_PART_LENGTH become `#` + a 128-bit
 * SHA-256 prefix (base64url): a raw part can never start with `#`, since `#` itself is encoded.
 * It runs on every cache read, so ASCII parts are encoded in one pass; non-ASCII parts take a regex path.
 */
export function encodeKeyPart(part: KeyPart): string {
  const s = typeof part === 'string' ? part : String(part)
  if (SAFE.test(s)) return s.length > MAX_KEY_PART_LENGTH ? hashed(s) : s
  // The per-character loop below costs ~0.2 us for `user:42` in a process with node-redis loaded (its
  // `class extends String` slows `charCodeAt`): two native regex passes cost a third of that.
  if (SAFE_AND_COLONS.test(s)) {
    const colons = s.replaceAll(':', '%3A')
    return colons.length > MAX_KEY_PART_LENGTH ? hashed(s) : colons
  }
  let out = ''
  let last = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 128) {
      if (ASCII_SAFE[c] === 1) continue
      out += `${s.slice(last, i)}%${HEX[c >> 4]}${HEX[c & 15]}`
      last = i + 1
    } else {
      out = s.replace(UNSAFE, escapeChar)
      return out.length > MAX_KEY_PART_LENGTH ? hashed(s) : out
    }
  }
  out = last === 0 ? s : out + s.slice(last)
  return out.length > MAX_KEY_PART_LENGTH ? hashed(s) : out
}

/** Escapes glob metacharacters (`* ? [ ] \`) so a literal can be embedded in a SCAN MATCH pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&')
}

/**
 * Builds every Redis key of a package: `namespace:part:part`, with `{tag}` hash tags for co-location in a
 * cluster. Immutable; `child()` nests a namespace.
 * @example
 * const keys = new KeyBuilder('app').child('session')
 * keys.key('user:42')          // 'app:session:user%3A42'
 * keys.tagged('user:42', 'idx') // 'app:session:{user%3A42}:idx'
 */
export class KeyBuilder {
  /** The namespace, e.g. `app:session`. */
  readonly namespace: string

  constructor(namespace: string) {
    const parts = namespace.split(':')
    if (!namespace || parts.some((p) => !p || !SAFE.test(p) || p.length > MAX_KEY_PART_LENGTH)) {
      throw new InvalidOptionError(
        PKG,
        'namespace',
        `must be ':'-separated parts of letters, digits and ._-@/=+,;!$&()', got ${JSON.stringify(namespace)}`,
      )
    }
    this.namespace = namespace
  }

  /** `namespace:` — every key of this builder starts with it. */
  get prefix(): string {
    return `${this.namespace}:`
  }

  /** `namespace:part1:part2…`, each part escaped. */
  key(...parts: KeyPart[]): string {
    let out = this.namespace
    for (const p of parts) out += `:${encodeKeyPart(p)}`
    return out
  }

  /** `namespace:{tag}:parts…`: every key with the same tag lands in the same cluster slot. */
  tagged(tag: KeyPart, ...parts: KeyPart[]): string {
    let out = `${this.namespace}:{${encodeKeyPart(tag)}}`
    for (const p of parts) out += `:${encodeKeyPart(p)}`
    return out
  }

  /** A builder for a nested namespace (`namespace:part…`). */
  child(...parts: KeyPart[]): KeyBuilder {
    return new KeyBuilder(this.key(...parts))
  }

  /**
   * A SCAN MATCH pattern inside this namespace: `glob` may use `*`, `?` and `[...]`; the namespace itself
   * is escaped so it matches literally.
   */
  pattern(glob = '*'): string {
    return `${escapeGlob(this.prefix)}${glob}`
  }

  /** True when `key` belongs to this namespace. */
  owns(key: string): boolean {
    return key.startsWith(this.prefix)
  }
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[i] = crc
  }
  return table
})()

/** The Redis Cluster hash slot (0–16383) of a key, honouring `{hash tags}`. */
export function hashSlot(key: string | Buffer): number {
  if (typeof key !== 'string') return slotOfBytes(key)
  // Strings: no Buffer per call (this runs for every key of every script call). '{' and '}' are ASCII and
  // never occur inside a UTF-8 multi-byte sequence, so character and byte positions agree on them.
  let tag = key
  const open = key.indexOf('{')
  if (open >= 0) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) tag = key.slice(open + 1, close)
  }
  let crc = 0
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i)
    if (c >= 0x80) return slotOfBytes(Buffer.from(key)) // non-ASCII: CRC over the UTF-8 bytes
    crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ c) & 0xff] as number)
  }
  return crc % 16384
}

function slotOfBytes(key: Buffer): number {
  let buf = key
  const open = buf.indexOf(0x7b)
  if (open >= 0) {
    const close = buf.indexOf(0x7d, open + 1)
    if (close > open + 1) buf = buf.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of buf) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc % 16384
}
