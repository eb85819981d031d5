import { randomBytes } from 'node:crypto'
import { type Connection, InvalidArgumentError, parseOptions } from '@cache/client'
import { z } from 'zod'
import { KEY_BYTES, PKG } from './defaults.js'
import { type EncryptionCodec, encryptionCodec } from './encryption-codec.js'
import { KeyedHash } from './keyed-hash.js'
import { Keyring } from './keyring.js'
import { zKeyring, zNamespace } from './schemas.js'

/** Options of `new SubjectIndex()`. */
export interface SubjectIndexOptions {
  /** Scope of the index keys. @default 'subjects' */
  namespace?: string
  /**
   * Hashes subject ids in index keys (HMAC, so the index does not reveal who is in it) and wraps the
   * per-subject data keys used for crypto-shredding.
   */
  keyring: Keyring
  /**
   * The keyring key the subject hashes are made with. Pin it (set it to today's primary) so a key
   * rotation does not move every index set. @default the keyring's primary at construction
   */
  hashKeyId?: string
}

const schema = z
  .object({
    namespace: zNamespace('subjects'),
    keyring: zKeyring,
    hashKeyId: z.string().min(1).optional(),
  })
  .strict()

/** Most keys one SADD/SREM carries. */
const BATCH = 500

function checkSubject(subject: unknown): string {
  if (typeof subject !== 'string' || subject === '')
    throw new InvalidArgumentError(PKG, 'subject', 'must be a non-empty string')
  return subject
}

function checkKeys(keys: unknown): string[] {
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || k === ''))
    throw new InvalidArgumentError(PKG, 'keys', 'must be an array of non-empty Redis keys')
  return keys as string[]
}

/**
 * Records which Redis keys hold a data subject's data (a user, a customer), so that `eraseSubject` can
 * find and delete them without SCAN: one set per subject, `ns:{<hmac of subject>}:keys` (hash-tagged,
 * Cluster-safe; the listed keys may live in any slot). Optionally gives each subject its own data key,
 * wrapped by the keyring: values encrypted under `await index.keyringFor(subject)` become unreadable
 * everywhere (replicas, other regions, backups) once the subject is erased.
 *
 * @example
 * const subjects = new SubjectIndex(conn, { keyring })
 * await subjects.add('user:42', [cache.redisKey('profile:42')])
 * await eraseSubject(conn, 'user:42', { indexes: [subjects] })
 */
export class SubjectIndex {
  readonly #conn: Connection
  readonly #hash: KeyedHash
  readonly #wrap: EncryptionCodec
  readonly #namespace: string
  /** Unwrapped subject keyrings of this process, dropped by `forget()` (and so by `eraseSubject`). */
  readonly #keyrings = new Map<string, Keyring>()

  constructor(conn: Connection, options: SubjectIndexOptions) {
    const o = parseOptions(PKG, schema, options)
    this.#conn = conn
    this.#namespace = o.namespace
    this.#hash = new KeyedHash(o.keyring, {
      context: 'subject-index',
      ...(o.hashKeyId === undefined ? {} : { keyId: o.hashKeyId }),
    })
    this.#wrap = encryptionCodec(o.keyring)
  }

  /** The index set of a subject. */
  setKey(subject: string): string {
    return this.#conn.keys.tagged(this.#namespace, this.#hash.part(checkSubject(subject)), 'keys')
  }

  /** Where the subject's wrapped data key lives (same slot as its set). */
  dataKeyKey(subject: string): string {
    return this.#conn.keys.tagged(this.#namespace, this.#hash.part(checkSubject(subject)), 'dk')
  }

  /** Registers Redis keys as holding the subject's data. */
  async add(subject: string, keys: readonly string[]): Promise<void> {
    const set = this.setKey(subject)
    const list = checkKeys(keys)
    for (let i = 0; i < list.length; i += BATCH)
      await this.#conn.send(['SADD', set, ...list.slice(i, i + BATCH)], { key: set })
  }

  /** Unregisters keys (their data is gone, or no longer the subject's). */
  async remove(subject: string, keys: readonly string[]): Promise<void> {
    const set = this.setKey(subject)
    const list = checkKeys(keys)
    for (let i = 0; i < list.length; i += BATCH)
      await this.#conn.send(['SREM', set, ...list.slice(i, i + BATCH)], { key: set })
  }

  /** Every key registered for the subject (SSCAN, so a large set never blocks the server). */
  async keys(subject: string): Promise<string[]> {
    const set = this.setKey(subject)
    const out = new Set<string>()
    let cursor = '0'
    do {
      const [next, batch] = (await this.#conn.send<[string, string[]]>(
        ['SSCAN', set, cursor, 'COUNT', '500'],
        { key: set },
      )) ?? ['0', []]
      for (const k of batch) out.add(String(k))
      cursor = String(next)
    } while (cursor !== '0')
    return [...out]
  }

  /**
   * The subject's own keyring (one primary data key, created on first use and stored wrapped by the
   * index's keyring): pass it to `encryptionCodec` for the subject's values. After `eraseSubject` the
   * wrapped key is gone and every value encrypted under it fails with E_KEY_NOT_FOUND; a later call
   * creates a fresh key with a new id.
   */
  async keyringFor(subject: string): Promise<Keyring> {
    checkSubject(subject)
    const cached = this.#keyrings.get(subject)
    if (cached) return cached
    const key = this.dataKeyKey(subject)
    const read = async (): Promise<Keyring | undefined> => {
      const bytes = await this.#conn.send<Buffer | null>(['GET', key], { key, buffers: true })
      if (!bytes) return undefined
      const { id, material } = this.#wrap.decode(bytes, { key }) as { id: string; material: Uint8Array }
      return new Keyring({ keys: [{ id, key: Buffer.from(material), status: 'primary' }] })
    }
    let keyring = await read()
    if (!keyring) {
      const id = `subject-${randomBytes(8).toString('hex')}`
      const material = randomBytes(KEY_BYTES)
      const wrapped = this.#wrap.encode({ id, material }, { key })
      const created = await this.#conn.send(['SET', key, wrapped, 'NX'], { key })
      // Another process created it first: use theirs.
      keyring =
        created === 'OK'
          ? new Keyring({ keys: [{ id, key: material, status: 'primary' }] })
          : ((await read()) as Keyring)
      material.fill(0)
    }
    this.#keyrings.set(subject, keyring)
    return keyring
  }

  /** Drops this process's copy of the subject's unwrapped key. */
  forget(subject: string): void {
    this.#keyrings.delete(subject)
  }

  /**
   * Deletes the subject's index set and its wrapped data key (crypto-shredding). Returns how many of the
   * two existed. `eraseSubject` calls it after deleting the keys the set lists.
   */
  async purge(subject: string): Promise<number> {
    this.forget(subject)
    const set = this.setKey(subject)
    return Number(await this.#conn.send(['DEL', set, this.dataKeyKey(subject)], { key: set }))
  }

  toString(): string {
    return `SubjectIndex(${this.#namespace})`
  }
}
