import type { FieldCipher } from './field-cipher.js'
import type { IdHasher } from './hash.js'
import type { DecodedValue } from './layout.js'
import type { Entry } from './recent.js'

/** Session data: a JSON object; each top-level field is stored (and merged) on its own. */
export type SessionData = Record<string, unknown>

/** One session as read from Redis. */
export interface StoredSession {
  handle: string
  tenant: string
  userId: string
  data: SessionData
  meta: Record<string, unknown>
  createdAt: number
  lastSeenAt: number
  expiresAt: number
  absoluteExpiresAt: number
  idleTimeoutMs: number
  version: number
}

/** A session as loaded: the session, the JSON of each data field (what a merge compares against), the value. */
export interface LoadedSession {
  session: StoredSession
  json: Record<string, string>
  /** The stored value as read (a compare-and-set compares against it). */
  raw: string
  decoded: DecodedValue
  /** The live-set score known to cover the session (0: none known). */
  liveAt: number
  /** This process' entry of the session (its key, kept value, expiry): a write or touch after the load looks it up no more. */
  entry: Entry
}

/**
 * What a write or an expiry move needs of a loaded session: its decoded value, the live-set score known to
 * cover it and the engine's entry of it. A LoadedSession is one; the express-session store keeps only this
 * much between a read and a write.
 */
export type WriteBase = Pick<LoadedSession, 'decoded' | 'liveAt' | 'entry'>

/** A change to a loaded session: fields set (name -> JSON), deleted, the user id and idle timeout from now on. */
export interface Change {
  set: Record<string, string>
  del: string[]
  /** Drop every field not in `set`. */
  replace?: boolean
  userId?: string
  idleMs?: number
}

/** The outcome of a write: 1 done, 0 the value changed since it was loaded (compare-and-set), -1 gone. */
export interface WriteResult {
  status: 1 | 0 | -1
  version: number
  expiresAt: number
}

/** How an engine stores: its namespace, the id hash, the optional cipher, the size cap, the value cache bound. */
export interface EngineConfig {
  namespace: string
  hash: IdHasher
  cipher: FieldCipher | undefined
  maxDataBytes: number
  cacheSize: number
  cacheBytes: number
}

/** What the cache of decoded values holds now (see `cacheSize`, `cacheBytes`). */
export interface CacheUsage {
  /** Sessions whose decoded value is kept. */
  entries: number
  /** Bytes they count (an upper estimate of their heap; never more than `cacheBytes`). */
  bytes: number
}
