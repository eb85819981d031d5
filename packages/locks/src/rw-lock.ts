import type { Connection, ScriptFn } from '@cache/client'
import { parseOptions } from '@cache/client'
import { rwKeys } from './keys.js'
import { Lock, runHolding } from './lock.js'
import { newOwner } from './lock-manager.js'
import {
  type AcquireOptions,
  checkName,
  PKG,
  parseAcquire,
  type ReadWriteLockOptions,
  type ResolvedAcquire,
  rwSchema,
} from './options.js'
import { lockExtend, rwAcquire, rwWriteRelease, semaphoreExtend, semaphoreRelease } from './scripts/index.js'
import { type Notifier, notifierFor, waitLoop } from './wait.js'

/** Read-write lock acquisition options. */
export type RwAcquireOptions = Pick<AcquireOptions, 'ttl' | 'waitTimeout' | 'autoExtend' | 'signal'>

/**
 * A read-write lock: any number of readers share it, a writer excludes readers and other writers. Writers
 * have preference (a waiting writer holds back new readers), so readers cannot starve writers. Each share is
 * a lease with its own TTL (server clock) and a fencing token.
 * @example
 * const rw = new ReadWriteLock(conn, 'catalog')
 * await rw.withRead({ ttl: '5s' }, () => readCatalog())
 * await rw.withWrite({ ttl: '5s' }, () => rebuildCatalog())
 */
export class ReadWriteLock {
  /** The lock's name. */
  readonly name: string
  readonly #keys: ReturnType<typeof rwKeys>
  readonly #options: ReturnType<typeof parseRw>
  readonly #notifier: Notifier
  readonly #acquire: ScriptFn<[0 | 1, number]>
  readonly #releaseRead: ScriptFn<number>
  readonly #extendRead: ScriptFn<number>
  readonly #releaseWrite: ScriptFn<number>
  readonly #extendWrite: ScriptFn<number>

  constructor(conn: Connection, name: string, options: ReadWriteLockOptions = {}) {
    this.name = checkName('name', name)
    this.#options = parseRw(options)
    this.#keys = rwKeys(conn.keys.child(this.#options.namespace), name)
    this.#notifier = notifierFor(conn)
    this.#acquire = conn.defineScript('locks:rw-acquire', rwAcquire, { keys: 4 })
    this.#releaseRead = conn.defineScript('locks:semaphore-release', semaphoreRelease, { keys: 2 })
    this.#extendRead = conn.defineScript('locks:semaphore-extend', semaphoreExtend, { keys: 1 })
    this.#releaseWrite = conn.defineScript('locks:rw-write-release', rwWriteRelease, { keys: 2 })
    this.#extendWrite = conn.defineScript('locks:lock-extend', lockExtend, { keys: 1 })
  }

  /** Takes a shared (read) lease. @throws LockTimeoutError (E_LOCK_TIMEOUT), LockAbortedError */
  async read(options?: RwAcquireOptions): Promise<Lock> {
    return this.#take('r', parseAcquire(options))
  }

  /** Takes the exclusive (write) lease. @throws LockTimeoutError (E_LOCK_TIMEOUT), LockAbortedError */
  async write(options?: RwAcquireOptions): Promise<Lock> {
    return this.#take('w', parseAcquire(options))
  }

  /** Runs `fn` under a read lease and always releases it. */
  withRead<T>(options: RwAcquireOptions | undefined, fn: (lock: Lock) => Promise<T> | T): Promise<T> {
    return runHolding(() => this.read(options), fn)
  }

  /** Runs `fn` under the write lease and always releases it. */
  withWrite<T>(options: RwAcquireOptions | undefined, fn: (lock: Lock) => Promise<T> | T): Promise<T> {
    return runHolding(() => this.write(options), fn)
  }

  async #take(mode: 'r' | 'w', o: ResolvedAcquire): Promise<Lock> {
    const k = this.#keys
    const id = newOwner()
    const sharded = this.#notifier.sharded ? '1' : '0'
    const retryIntervalMs = this.#options.retryInterval
    const { value: token, startedAt } = await waitLoop<number>({
      resource: this.name,
      waitTimeoutMs: o.waitTimeout,
      retryIntervalMs,
      signal: o.signal,
      attempt: async () => {
        const startedAt = performance.now()
        const [status, value] = await this.#acquire(
          [k.readers, k.writer, k.writerWaiting, k.fence],
          [mode, id, o.ttl, this.#options.fencing, retryIntervalMs * 3],
        )
        if (status === 1) return { ok: true, value, startedAt }
        return { ok: false, retryInMs: value }
      },
      notify: { notifier: this.#notifier, channel: k.channel, accept: () => true, all: true },
    })
    const ops =
      mode === 'r'
        ? {
            extend: async (ttlMs: number) => (await this.#extendRead([k.readers], [id, ttlMs])) === 1,
            release: async () => (await this.#releaseRead([k.readers, k.channel], [id, sharded])) === 1,
          }
        : {
            extend: async (ttlMs: number) =>
              (await this.#extendWrite([k.writer], [id, String(token), ttlMs])) === 1,
            release: async () =>
              (await this.#releaseWrite([k.writer, k.channel], [id, String(token), sharded])) === 1,
          }
    return new Lock({ resource: this.name, token, ttlMs: o.ttl, startedAt, autoExtend: o.autoExtend, ops })
  }
}

function parseRw(options: ReadWriteLockOptions) {
  return parseOptions(PKG, rwSchema, options)
}
