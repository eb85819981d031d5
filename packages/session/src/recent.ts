import { BoundedMap } from './bounded-map.js'
import type { FieldCipher } from './field-cipher.js'
import type { SessionKeys } from './keys.js'
import { type DecodedValue, decodeValue, type Header } from './layout.js'

/**
 * What this process knows of a recent session: its Redis key, the value it last read (decoded, with the ids
 * of the keys that sealed its chunks), and what it last did to its expiry (another process' touches are not
 * known here; 0 = nothing).
 */
export interface Entry {
  tenant: string
  key: string
  value: DecodedValue | undefined
  keyIds: string[] | undefined
  expiresAt: number
  seenAt: number
  liveAt: number
  /** The generation of the value cache holding `value` (undefined: none). */
  gen: ValueGeneration | undefined
  /** What `value` counts against the byte budget. */
  bytes: number
}
/** Sessions known (by handle). */
const KNOWN_MAX = 10_000
/** Fixed heap of a kept value besides its strings (objects, map slots), and of each of its fields. */
const VALUE_OVERHEAD = 256
const FIELD_OVERHEAD = 64

/** Entries whose decoded value one generation of the value cache holds, and their bytes. */
interface ValueGeneration {
  entries: Set<Entry>
  bytes: number
}

/**
 * Bytes a kept value costs, an upper estimate of its heap: the stored value and the JSON of each field (V8
 * keeps one-byte strings for ASCII, two bytes a character otherwise: counted as two when any is non-ASCII is
 * not done per read, so every character counts 2 bytes), plus a fixed overhead per value and per field.
 */
export function valueBytes(d: DecodedValue): number {
  let chars = d.raw.length + d.headerLine.length + d.metaJson.length + d.userId.length
  let fields = 0
  for (const k in d.json) {
    chars += k.length + d.json[k]!.length
    fields++
  }
  return 2 * chars + VALUE_OVERHEAD + FIELD_OVERHEAD * fields
}

/** The bound of the kept decoded values: entries and bytes (0 of either: none kept). */
export interface CacheBound {
  cacheSize: number
  cacheBytes: number
}

/**
 * The sessions this process touched recently (by handle, bounded): each one's Redis key built once, the value
 * last read kept decoded so the next read of the same value (or of it plus appended chunks) replays only what
 * changed, and what this process last did to its expiry.
 */
export class RecentSessions {
  readonly #known = new BoundedMap<string, Entry>(KNOWN_MAX)
  readonly #keys: SessionKeys
  readonly #cipher: FieldCipher | undefined
  /**
   * The kept values in two generations, each bounded by half the entries and half the bytes: when the young
   * one would pass either half it becomes the old one and the old one's values are dropped, so the total
   * never passes `cacheSize` entries nor `cacheBytes` bytes, at O(1) amortized per kept value.
   */
  #young: ValueGeneration = { entries: new Set(), bytes: 0 }
  #old: ValueGeneration = { entries: new Set(), bytes: 0 }
  readonly #halfSize: number
  readonly #halfBytes: number

  constructor(keys: SessionKeys, cipher: FieldCipher | undefined, bound: CacheBound) {
    this.#keys = keys
    this.#cipher = cipher
    this.#halfSize =
      bound.cacheSize === 0 || bound.cacheBytes === 0 ? 0 : Math.max(1, Math.floor(bound.cacheSize / 2))
    this.#halfBytes = this.#halfSize === 0 ? 0 : Math.floor(bound.cacheBytes / 2)
  }

  /** Decoded values kept and the bytes they count (never more than `cacheSize` and `cacheBytes`). */
  usage(): { entries: number; bytes: number } {
    return {
      entries: this.#young.entries.size + this.#old.entries.size,
      bytes: this.#young.bytes + this.#old.bytes,
    }
  }

  /** The entry of a session (made, with its key, on first use; its key is built once, not per command). */
  entry(tenant: string, handle: string): Entry {
    let e = this.#known.get(handle)
    if (e === undefined || e.tenant !== tenant) {
      if (e !== undefined) this.#drop(e)
      e = {
        tenant,
        key: this.#keys.session(tenant, handle),
        value: undefined,
        keyIds: undefined,
        expiresAt: 0,
        seenAt: 0,
        liveAt: 0,
        gen: undefined,
        bytes: 0,
      }
      this.#known.set(handle, e)
    }
    return e
  }

  /**
   * The decoded value of `raw` read at `key`, from the one kept for the key when `raw` is it or extends it.
   * Encrypted: a kept value is used only while every key that sealed its chunks is still usable (a disabled
   * key makes the full decode, and with it E_KEY_DISABLED, happen again).
   */
  decode(entry: Entry, raw: string): DecodedValue | undefined {
    const cipher = this.#cipher
    let prev = entry.value
    if (prev !== undefined && cipher && !cipher.usable(entry.keyIds!)) prev = undefined
    // The value last read (a touch, a read-only request): no closure, no key-id list.
    if (prev !== undefined && raw.length === prev.raw.length && raw === prev.raw) return prev
    let keyIds: string[] | undefined
    let open: (line: string, header: Header) => string = plainLine
    if (cipher) {
      keyIds = prev === undefined ? [] : [...entry.keyIds!]
      const ids = keyIds
      const key = entry.key
      open = (line, header) => cipher.open(key, aad(header), line, ids)
    }
    const d = decodeValue(raw, open, prev)
    if (d === undefined || d === prev) return d
    this.#keep(entry, d, keyIds)
    return d
  }

  /** Whether `wrote` keeps anything (the caller makes its value only then). */
  get keepsWrites(): boolean {
    return this.#cipher === undefined && this.#halfSize !== 0
  }

  /**
   * Keeps the state of what this process just wrote to the entry's key (`next`; only when `keepsWrites`), so
   * the next read of that value replays nothing. Only a guess at what the key holds: a read compares the value
   * read with it and decodes what differs, as for any kept value. Encrypted, the kept value also needs the ids
   * of the keys that sealed it: not done, the next read replays the new chunk (opened from the cipher's cache).
   */
  wrote(entry: Entry, next: DecodedValue): void {
    if (!this.keepsWrites) return
    this.#keep(entry, next, undefined)
  }

  /** Keeps `d` as the entry's value within the bound (or drops the entry's value when it does not fit). */
  #keep(entry: Entry, d: DecodedValue, keyIds: string[] | undefined): void {
    if (this.#halfSize === 0) {
      this.#drop(entry)
      return
    }
    const bytes = valueBytes(d)
    let young = this.#young
    if (entry.gen === young && young.bytes - entry.bytes + bytes <= this.#halfBytes) {
      // Already in the young generation and still within its bytes: the new value in place (no Set churn).
      young.bytes += bytes - entry.bytes
      entry.bytes = bytes
      entry.value = d
      entry.keyIds = keyIds
      return
    }
    this.#drop(entry)
    if (bytes > this.#halfBytes) return
    if (young.entries.size >= this.#halfSize || young.bytes + bytes > this.#halfBytes) {
      for (const e of this.#old.entries) {
        e.value = undefined
        e.keyIds = undefined
        e.gen = undefined
        e.bytes = 0
      }
      this.#old = young
      young = this.#young = { entries: new Set(), bytes: 0 }
    }
    young.entries.add(entry)
    young.bytes += bytes
    entry.gen = young
    entry.bytes = bytes
    entry.value = d
    entry.keyIds = keyIds
  }

  /** Drops the entry's kept value (and its bytes). */
  #drop(entry: Entry): void {
    const gen = entry.gen
    if (gen !== undefined) {
      gen.entries.delete(entry)
      gen.bytes -= entry.bytes
    }
    entry.value = undefined
    entry.keyIds = undefined
    entry.gen = undefined
    entry.bytes = 0
  }

  /** Forgets a session (removed). */
  forget(handle: string): void {
    const e = this.#known.get(handle)
    if (e !== undefined) this.#drop(e)
    this.#known.delete(handle)
  }
}

const plainLine = (line: string) => line

/** Records what this process just did to a session's expiry (in place: a new object per write would outlive a
 * scavenge and be promoted, only to die there). */
export function remember(e: Entry, expiresAt: number, seenAt: number, liveAt: number): void {
  e.expiresAt = expiresAt
  e.seenAt = seenAt
  e.liveAt = liveAt
}

/**
 * What a chunk's AAD adds to its session key: the parts of the header that never change (a compaction
 * rewrites the header, and a chunk appended in parallel with it must still open).
 */
export function aad(h: Header): string {
  return `s2|${h.createdAt}|${h.absoluteExpiresAt}`
}
