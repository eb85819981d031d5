/**
 * A MessagePack reader for the plain data a cache reads most (maps with string keys, arrays, strings,
 * integers up to 32 bits, float64, booleans, null): the mirror of msgpack-fast.ts. msgpackr's `unpack`
 * pays a fixed set-up on every Buffer it has not seen (a DataView, attached to the Buffer as a property,
 * which changes its shape), and a cache decodes a fresh Buffer from node-redis on every read.
 *
 * Anything else (extensions: Date, Map, Set, typed arrays, bundled strings; bin; float32; 64-bit
 * integers; non-string or `__proto__` keys; strings that are not well-formed UTF-8; truncated or trailing
 * bytes; very deep values) returns PLAIN_BAIL and the caller decodes the same bytes with msgpackr, so every
 * value decodes to what msgpackr gives (the property test checks it) and every malformed payload fails
 * where msgpackr fails.
 */

/** Returned by `unpackPlain` when the bytes hold something it leaves to msgpackr. */
export const PLAIN_BAIL: unique symbol = Symbol('msgpack-read bail')

interface SliceBuffer extends Uint8Array {
  utf8Slice(start: number, end: number): string
}

/** Containers deeper than this go to msgpackr. */
const MAX_DEPTH = 64
/** Keys up to this many bytes are interned through the key cache. */
const MAX_CACHED_KEY = 32

const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)
/** Byte order of the host: a big-endian float64 lands in `f64Bytes` reversed on little-endian hosts. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const fromCharCode = String.fromCharCode

let src: SliceBuffer = Buffer.alloc(0) as unknown as SliceBuffer
let pos = 0
let end = 0
let bail = false

/** An interned object key: a known key costs a byte compare, not a new string. */
interface CachedKey {
  bytes: Uint8Array
  key: string
  /** The key set of the maps that start with this key, once seen twice (see readMap). */
  shape: Shape | undefined
  /** Maps starting with this key read without a shape since the last hit (or since the entry was made). */
  misses: number
  /** Shapes this entry may still build: a first key followed by changing keys stops compiling soon. */
  builds: number
}
const keyCache: Array<CachedKey | undefined> = new Array(4096)
/** The entry of the key `readKey` just returned (undefined when it is not cached). */
let lastKey: CachedKey | undefined

/**
 * A known key set: the keys in the order they are written, their bytes as written after the first (a
 * header byte or two and the UTF-8), and an object literal of those keys. A map of a known shape costs a
 * byte compare per key and one literal (a stable hidden class, no keyed stores), not a hash per key and a
 * keyed store that adds a property; the same idea as msgpackr's records, on the read side only, so the
 * stored bytes are unchanged.
 */
interface Shape {
  keys: string[]
  wire: Uint8Array[]
  make: (values: unknown[], at: number) => Record<string, unknown>
}
/**
 * Maps of more keys are built key by key. A map of many keys built by keyed stores turns into a dictionary
 * (slow to build and to read later): the 10 KiB object's 149-key top level decoded 0.785x faster as a shape.
 */
const MAX_SHAPE_KEYS = 256
/** Reads of a map without a shape (or not matching it) before its key set gets one. */
const SHAPE_AFTER = 2
/** Shapes one cached key may build. */
const BUILDS_PER_KEY = 3
/** Keys of all the shapes a process builds (each shape is a compiled function and two arrays). */
const SHAPE_KEYS_MAX = 1 << 16
let shapeKeysLeft = SHAPE_KEYS_MAX
/** The values of the maps being read with a shape, nested maps above their parents. */
const values: unknown[] = new Array(64).fill(undefined)
let top = 0

/**
 * Decodes the MessagePack value in `bytes[start, stop)`, or returns PLAIN_BAIL (see the file's summary).
 * `bytes` must be a Buffer (its native latin1/utf8 slices read the strings).
 */
export function unpackPlain(bytes: Uint8Array, start: number, stop: number): unknown {
  src = bytes as SliceBuffer
  pos = start
  end = stop
  bail = false
  top = 0
  const value = read(0)
  if (bail) {
    // A bail leaves values on the stack: they must not stay reachable.
    values.fill(undefined)
    return PLAIN_BAIL
  }
  return pos === end ? value : PLAIN_BAIL
}

function read(depth: number): unknown {
  if (pos >= end) {
    bail = true
    return undefined
  }
  const token = src[pos++] as number
  if (token < 0x80) return token
  if (token < 0x90) return readMap(token - 0x80, depth)
  if (token < 0xa0) return readArray(token - 0x90, depth)
  if (token < 0xc0) return readString(token - 0xa0)
  if (token >= 0xe0) return token - 0x100
  switch (token) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xcb:
      return readFloat64()
    case 0xcc:
      return need(1) ? (src[pos++] as number) : undefined
    case 0xcd:
      return need(2) ? uint16() : undefined
    case 0xce:
      return need(4) ? uint32() : undefined
    case 0xd0:
      return need(1) ? ((src[pos++] as number) << 24) >> 24 : undefined
    case 0xd1:
      return need(2) ? (uint16() << 16) >> 16 : undefined
    case 0xd2:
      return need(4) ? uint32() | 0 : undefined
    case 0xd9:
      return need(1) ? readString(src[pos++] as number) : undefined
    case 0xda:
      return need(2) ? readString(uint16()) : undefined
    case 0xdb:
      return need(4) ? readString(uint32()) : undefined
    case 0xdc:
      return need(2) ? readArray(uint16(), depth) : undefined
    case 0xdd:
      return need(4) ? readArray(uint32(), depth) : undefined
    case 0xde:
      return need(2) ? readMap(uint16(), depth) : undefined
    case 0xdf:
      return need(4) ? readMap(uint32(), depth) : undefined
  }
  // bin, ext, float32, 64-bit integers, 0xc1: msgpackr's.
  bail = true
  return undefined
}

/** True when `n` more bytes are there (else marks the read as bailed). */
function need(n: number): boolean {
  if (pos + n <= end) return true
  bail = true
  return false
}

function uint16(): number {
  const p = pos
  pos += 2
  return ((src[p] as number) << 8) | (src[p + 1] as number)
}

function uint32(): number {
  const p = pos
  pos += 4
  return (
    (src[p] as number) * 0x1000000 +
    (((src[p + 1] as number) << 16) | ((src[p + 2] as number) << 8) | (src[p + 3] as number))
  )
}

function readFloat64(): number | undefined {
  if (!need(8)) return undefined
  const p = pos
  pos += 8
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) f64Bytes[7 - i] = src[p + i] as number
  else for (let i = 0; i < 8; i++) f64Bytes[i] = src[p + i] as number
  return f64[0]
}

function readArray(length: number, depth: number): unknown[] | undefined {
  if (depth >= MAX_DEPTH || length > end - pos) {
    bail = true
    return undefined
  }
  const out = new Array(length)
  for (let i = 0; i < length; i++) {
    out[i] = read(depth + 1)
    if (bail) return undefined
  }
  return out
}

function readMap(length: number, depth: number): Record<string, unknown> | undefined {
  if (depth >= MAX_DEPTH || length * 2 > end - pos) {
    bail = true
    return undefined
  }
  if (length === 0) return {}
  const first = readKey()
  if (bail) return undefined
  const entry = lastKey
  const shape = entry?.shape
  if (shape !== undefined && shape.keys.length === length) return readShaped(shape, entry as CachedKey, depth)
  const out: Record<string, unknown> = {}
  out[first as string] = read(depth + 1)
  if (bail) return undefined
  return readRest(out, entry, 1, length, depth)
}

/** The map's keys `from` to `length` by keyed stores; a map seen often enough gets a shape for next time. */
function readRest(
  out: Record<string, unknown>,
  entry: CachedKey | undefined,
  from: number,
  length: number,
  depth: number,
): Record<string, unknown> | undefined {
  for (let i = from; i < length; i++) {
    const key = readKey()
    if (bail) return undefined
    out[key as string] = read(depth + 1)
    if (bail) return undefined
  }
  if (entry !== undefined && ++entry.misses >= SHAPE_AFTER && entry.builds > 0 && length <= MAX_SHAPE_KEYS)
    learn(entry, out, length)
  return out
}

/** A map whose first key has a shape of its length: values onto the stack while the keys match. */
function readShaped(shape: Shape, entry: CachedKey, depth: number): Record<string, unknown> | undefined {
  const length = shape.keys.length
  const at = top
  top += length
  values[at] = read(depth + 1)
  for (let i = 1; i < length && !bail; i++) {
    if (!readWire(shape.wire[i] as Uint8Array)) {
      // Another key set under the same first key: the keys so far, then key by key.
      const out: Record<string, unknown> = {}
      for (let j = 0; j < i; j++) {
        out[shape.keys[j] as string] = values[at + j]
        values[at + j] = undefined
      }
      top = at
      return readRest(out, entry, i, length, depth)
    }
    values[at + i] = read(depth + 1)
  }
  if (bail) return undefined
  const out = shape.make(values, at)
  for (let i = at; i < at + length; i++) values[i] = undefined
  top = at
  entry.misses = 0
  return out
}

/** Consumes `wire` when the bytes at `pos` are exactly it. */
function readWire(wire: Uint8Array): boolean {
  const n = wire.length
  if (n > end - pos) return false
  for (let i = 0; i < n; i++) if (src[pos + i] !== wire[i]) return false
  pos += n
  return true
}

/**
 * Gives `entry` the shape of `out` (just read key by key). Not for key sets an object literal would order or
 * build differently than keyed stores do: integer-like keys (enumerated first), repeated keys.
 */
function learn(entry: CachedKey, out: Record<string, unknown>, length: number): void {
  entry.misses = 0
  entry.builds--
  const keys = Object.keys(out)
  if (keys.length !== length || keys[0] !== entry.key || shapeKeysLeft < length) return
  const wire: Uint8Array[] = []
  for (const key of keys) {
    if (INDEX_LIKE.test(key) || key === '__proto__') return
    const utf8 = Buffer.from(key, 'utf8')
    if (utf8.length > 0xff) return
    const header = utf8.length < 32 ? [0xa0 | utf8.length] : [0xd9, utf8.length]
    wire.push(Uint8Array.of(...header, ...utf8))
  }
  let make: Shape['make']
  try {
    // Keys as JSON string literals: any string is quoted and escaped, so no key is read as code.
    const fields = keys.map((k, i) => `${JSON.stringify(k)}:v[a+${i}]`).join(',')
    make = new Function('v', 'a', `return {${fields}}`) as Shape['make']
  } catch {
    // Code generation disallowed (--disallow-code-generation-from-strings, a CSP): key by key from now on.
    shapeKeysLeft = 0
    return
  }
  shapeKeysLeft -= length
  entry.shape = { keys, wire, make }
}
const INDEX_LIKE = /^(?:0|[1-9]\d*)$/

/** A string key (fixstr or str8); anything else, and `__proto__` (msgpackr renames it), bails. */
function readKey(): string | undefined {
  const token = src[pos] as number
  let length: number
  if (token >= 0xa0 && token < 0xc0) {
    length = token - 0xa0
    pos += 1
  } else if (token === 0xd9 && pos + 1 < end) {
    length = src[pos + 1] as number
    pos += 2
  } else {
    bail = true
    return undefined
  }
  lastKey = undefined
  if (length === 0 || length > MAX_CACHED_KEY || length > end - pos) return readString(length)
  const p = pos
  // The length, the first two and the last three bytes, mixed: keys of one shape often share a prefix or
  // differ only at the end ("field1" … "field144": a hash of the first and last bytes put those 145 keys in
  // 30 slots, and most reads missed). A hash of every byte cost ~10 % of a 100-byte decode.
  const q = p + length - 1
  let h = length ^ ((src[p] as number) << 4) ^ ((src[q] as number) << 8)
  if (length > 2)
    h ^= ((src[q - 1] as number) << 12) ^ ((src[q - 2] as number) << 16) ^ ((src[p + 1] as number) << 20)
  // Two ways: a key whose slot another key of the same values took is found in the neighbouring one (152
  // keys in 4,096 slots collide ~3 times, and a collision between keys of one value missed on every read).
  const slot = Math.imul(h, 0x9e3779b1) >>> 20
  const hit = keyCache[slot]
  if (hit !== undefined && sameBytes(hit.bytes, p, length)) {
    pos += length
    lastKey = hit
    return hit.key
  }
  const other = keyCache[slot ^ 1]
  if (other !== undefined && sameBytes(other.bytes, p, length)) {
    pos += length
    lastKey = other
    return other.key
  }
  const key = readString(length)
  if (key === undefined) return undefined
  if (key === '__proto__') {
    bail = true
    return undefined
  }
  // A copy (Buffer's `slice` is a view): the cache must not keep, or follow changes to, the caller's memory.
  const entry: CachedKey = {
    bytes: Uint8Array.prototype.slice.call(src, p, p + length),
    key,
    shape: undefined,
    misses: 0,
    builds: BUILDS_PER_KEY,
  }
  // The newest key takes the first way; the one it displaces moves to the second.
  if (hit !== undefined) keyCache[slot ^ 1] = hit
  keyCache[slot] = entry
  lastKey = entry
  return key
}

function sameBytes(bytes: Uint8Array, p: number, length: number): boolean {
  if (bytes.length !== length) return false
  let i = 0
  while (i < length && bytes[i] === src[p + i]) i++
  return i === length
}

/** `length` UTF-8 bytes: short ASCII by char codes, else native UTF-8 when well-formed. */
function readString(length: number): string | undefined {
  if (length > end - pos) {
    bail = true
    return undefined
  }
  const p = pos
  const stop = p + length
  pos = stop
  if (length < 8) {
    let s = ''
    for (let i = p; i < stop; i++) {
      const c = src[i] as number
      if (c >= 0x80) return readUtf8(p, stop)
      s += fromCharCode(c)
    }
    return s
  }
  // One native UTF-8 decode (ASCII has its fast path there) and a native search, instead of a JavaScript scan
  // for non-ASCII bytes before a latin1 slice: ~75 vs ~95 ns for a 30-byte string.
  return readUtf8(p, stop)
}

function readUtf8(p: number, stop: number): string | undefined {
  const s = src.utf8Slice(p, stop)
  // Not well-formed (replacement characters; lone surrogates msgpackr wrote as 3 bytes) or a real U+FFFD:
  // msgpackr's own decoding decides.
  if (s.includes('\uFFFD')) {
    bail = true
    return undefined
  }
  return s
}
