/**
 * A MessagePack writer for the plain-data values a cache stores most (plain objects with string keys,
 * arrays, strings, finite and non-finite numbers, booleans, null), byte-compatible with what msgpackr reads
 * back: msgpackr's own `pack` writes every string shorter than 64 characters with a `charCodeAt` loop, and
 * in any process that loads node-redis (`class VerbatimString extends String`) V8 runs that loop ~5x slower
 * (docs/performance.md "The codec"). Here every string goes through the native `utf8Write`, which that
 * slowdown does not reach.
 *
 * Anything else (Date, Map, Set, typed arrays, bigint, undefined inside a value, class instances, lone
 * surrogates, objects of 65,536+ keys, very deep values) returns undefined and the caller falls back to msgpackr, so the bytes of
 * those values are exactly msgpackr's. Numbers follow msgpackr's rules (uint/int up to 32 bits, else
 * float64), so every value decodes to what msgpackr's own bytes decode to.
 */

interface Utf8Buffer extends Buffer {
  utf8Write(s: string, offset: number, length: number): number
}

/** `String.prototype.isWellFormed` (Node 20+; not in every TypeScript lib yet). */
type WellFormed = { isWellFormed(): boolean }

/** Containers deeper than this go to msgpackr (which handles, or refuses, what it always did). */
const MAX_DEPTH = 64

let target = Buffer.allocUnsafeSlow(16 * 1024) as Utf8Buffer
let view = new DataView(target.buffer, target.byteOffset, target.length)
let pos = 0
/** True while a value is being written (a getter that caches a value of its own falls back). */
let busy = false
/** Set when the value holds something this writer leaves to msgpackr. */
let bail = false

function room(bytes: number): void {
  if (pos + bytes <= target.length) return
  let size = target.length * 2
  while (size < pos + bytes) size *= 2
  const next = Buffer.allocUnsafeSlow(size) as Utf8Buffer
  target.copy(next, 0, 0, pos)
  target = next
  view = new DataView(next.buffer, next.byteOffset, next.length)
}

function writeString(s: string): void {
  const len = s.length
  room(len * 3 + 5)
  // The header is sized for the character count; when the UTF-8 bytes need a longer one, they move.
  const guess = len < 32 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5
  const start = pos + guess
  const n = target.utf8Write(s, start, target.length - start)
  const need = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
  if (need !== guess) target.copyWithin(pos + need, start, start + n)
  if (need === 1) target[pos] = 0xa0 | n
  else if (need === 2) {
    target[pos] = 0xd9
    target[pos + 1] = n
  } else if (need === 3) {
    target[pos] = 0xda
    view.setUint16(pos + 1, n)
  } else {
    target[pos] = 0xdb
    view.setUint32(pos + 1, n)
  }
  pos += need + n
}

/**
 * Object keys repeat across values (a cache holds many values of a few shapes): their encoded form (header
 * and UTF-8 bytes) is kept, so a known key is one Map lookup and a short copy instead of a native call.
 * Bounded: once full, new keys are written without being kept (keys built from data do not grow it).
 */
const KEY_CACHE_MAX = 4096
const KEY_CACHE_LENGTH = 64
const keyCache = new Map<string, Uint8Array>()

/** Writes `key`; returns its cached bytes, or undefined when it is not cached (long keys, a full cache). */
function writeKey(key: string): Uint8Array | undefined {
  const known = keyCache.get(key)
  if (known !== undefined) {
    writeBytes(known)
    return known
  }
  if (!(key as unknown as WellFormed).isWellFormed()) {
    bail = true
    return undefined
  }
  const at = pos
  writeString(key)
  if (key.length > KEY_CACHE_LENGTH || keyCache.size >= KEY_CACHE_MAX) return undefined
  const bytes = Uint8Array.prototype.slice.call(target, at, pos)
  keyCache.set(key, bytes)
  return bytes
}

function writeBytes(bytes: Uint8Array): void {
  const n = bytes.length
  room(n)
  if (n <= 16) for (let i = 0; i < n; i++) target[pos + i] = bytes[i] as number
  else target.set(bytes, pos)
  pos += n
}

/**
 * The keys of the last object written at each depth and their bytes: objects of one shape come in runs
 * (the items of an array, the values of a map), and `Object.keys` of one hidden class gives the same key
 * strings, so a key is one pointer compare instead of a Map lookup (~12 ns a key).
 */
interface KeyRun {
  keys: string[]
  bytes: Uint8Array[]
}
const keyRuns: Array<KeyRun | undefined> = []

function writeObject(obj: Record<string, unknown>, depth: number): void {
  const keys = Object.keys(obj)
  const n = keys.length
  // msgpackr refuses maps of 65,536+ keys: left to it, so such a value fails as it always did.
  if (n > 0xffff) {
    bail = true
    return
  }
  writeLength(n, 0x80, 16, 0xde, 0xdf)
  const run = keyRuns[depth]
  let i = 0
  if (run !== undefined && run.keys.length === n) {
    const known = run.keys
    const bytes = run.bytes
    for (; i < n && known[i] === keys[i]; i++) {
      writeBytes(bytes[i] as Uint8Array)
      write(obj[keys[i] as string], depth + 1)
      if (bail) return
    }
    if (i === n) return
  }
  // Another key set: its keys from the cache, kept as this depth's run when every key is cached.
  const bytes: Uint8Array[] = new Array(n)
  let cached = true
  for (let j = 0; j < i; j++) bytes[j] = (run as KeyRun).bytes[j] as Uint8Array
  for (; i < n; i++) {
    const key = keys[i] as string
    const b = writeKey(key)
    if (bail) return
    if (b === undefined) cached = false
    else bytes[i] = b
    write(obj[key], depth + 1)
    if (bail) return
  }
  if (cached && n <= 1024) keyRuns[depth] = { keys, bytes }
}

function writeNumber(value: number): void {
  room(9)
  if (value >>> 0 === value) {
    if (value < 0x80) target[pos++] = value
    else if (value < 0x100) {
      target[pos++] = 0xcc
      target[pos++] = value
    } else if (value < 0x10000) {
      target[pos++] = 0xcd
      view.setUint16(pos, value)
      pos += 2
    } else {
      target[pos++] = 0xce
      view.setUint32(pos, value)
      pos += 4
    }
  } else if (value >> 0 === value) {
    if (value >= -0x20) target[pos++] = 0x100 + value
    else if (value >= -0x80) {
      target[pos++] = 0xd0
      target[pos++] = value + 0x100
    } else if (value >= -0x8000) {
      target[pos++] = 0xd1
      view.setInt16(pos, value)
      pos += 2
    } else {
      target[pos++] = 0xd2
      view.setInt32(pos, value)
      pos += 4
    }
  } else {
    target[pos++] = 0xcb
    view.setFloat64(pos, value)
    pos += 8
  }
}

function writeLength(n: number, fix: number, fixMax: number, b16: number, b32: number): void {
  room(5)
  if (n < fixMax) target[pos++] = fix | n
  else if (n < 0x10000) {
    target[pos++] = b16
    view.setUint16(pos, n)
    pos += 2
  } else {
    target[pos++] = b32
    view.setUint32(pos, n)
    pos += 4
  }
}

function write(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      // A lone surrogate: msgpackr's short-string loop keeps it, utf8Write would not.
      if (!(value as unknown as WellFormed).isWellFormed()) bail = true
      else writeString(value as string)
      return
    case 'number':
      writeNumber(value as number)
      return
    case 'boolean':
      room(1)
      target[pos++] = value ? 0xc3 : 0xc2
      return
    case 'object': {
      if (value === null) {
        room(1)
        target[pos++] = 0xc0
        return
      }
      if (depth >= MAX_DEPTH) {
        bail = true
        return
      }
      const ctor = (value as { constructor?: unknown }).constructor
      if (ctor === Object) {
        writeObject(value as Record<string, unknown>, depth)
        return
      }
      if (ctor === Array) {
        const arr = value as unknown[]
        const n = arr.length
        writeLength(n, 0x90, 16, 0xdc, 0xdd)
        for (let i = 0; i < n && !bail; i++) write(arr[i], depth + 1)
        return
      }
      bail = true
      return
    }
    default:
      bail = true
  }
}

/**
 * Writes `value` as MessagePack after `headerBytes` reserved bytes and returns a view of the writer's scratch
 * buffer holding both (the header left for the caller to fill), valid until the next call: copy it, or be
 * done with it, before anything else encodes. Undefined when the value is not plain data: encode it with
 * msgpackr then. The codec compresses large values straight from this view (no copy of the uncompressed
 * bytes).
 */
export function packPlainView(value: unknown, headerBytes: number): Buffer | undefined {
  if (busy) return undefined
  busy = true
  bail = false
  pos = headerBytes
  try {
    write(value, 0)
    return bail ? undefined : target.subarray(0, pos)
  } finally {
    busy = false
    // A huge value must not pin a huge scratch buffer (a view returned above keeps the old one alive).
    if (target.length > 1024 * 1024) {
      target = Buffer.allocUnsafeSlow(16 * 1024) as Utf8Buffer
      view = new DataView(target.buffer, target.byteOffset, target.length)
    }
  }
}

/** packPlainView's bytes in a Buffer of their own. */
export function packPlain(value: unknown, headerBytes: number): Buffer | undefined {
  const scratch = packPlainView(value, headerBytes)
  if (scratch === undefined) return undefined
  const out = Buffer.allocUnsafe(scratch.length)
  scratch.copy(out, 0, 0, scratch.length)
  return out
}
