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
}
/** Sessions known (by handle). */
const KNOWN_MAX = 10_000
/** Values longer than this many characters are not kept (decoded on every read). */
const DECODED_MAX_CHARS = 4096

/**
 * The sessions this process touched recently (by handle, bounded): each one's Redis key built once, the value
 * last read kept decoded so the next read of the same value (or of it plus appended chunks) replays only what
 * changed, and what this process last did to its expiry.
 */
export class RecentSessions {
  readonly #known = new BoundedMap<string, Entry>(KNOWN_MAX)
  readonly #keys: SessionKeys
  readonly #cipher: FieldCipher | undefined

  constructor(keys: SessionKeys, cipher: FieldCipher | undefined) {
    this.#keys = keys
    this.#cipher = cipher
  }

  /** The entry of a session (made, with its key, on first use; its key is built once, not per command). */
  entry(tenant: string, handle: string): Entry {
    let e = this.#known.get(handle)
    if (e === undefined || e.tenant !== tenant) {
      e = {
        tenant,
        key: this.#keys.session(tenant, handle),
        value: undefined,
        keyIds: undefined,
        expiresAt: 0,
        seenAt: 0,
        liveAt: 0,
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
    if (raw.length <= DECODED_MAX_CHARS) {
      entry.value = d
      entry.keyIds = keyIds
    } else entry.value = undefined
    return d
  }

  /** Forgets a session (removed). */
  forget(handle: string): void {
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
