import type { Connection, ScriptFn } from '@cache/client'
import { parseOptions } from '@cache/client'
import { semaphoreKeys } from './keys.js'
import { Lock, runHolding } from './lock.js'
import { newOwner } from './lock-manager.js'
import {
  type AcquireOptions,
  checkName,
  PKG,
  parseAcquire,
  type ResolvedAcquire,
  type SemaphoreOptions,
  semaphoreSchema,
} from './options.js'
import { semaphoreAcquire, semaphoreExtend, semaphoreRelease } from './scripts/index.js'
import { type Notifier, notifierFor, waitLoop } from './wait.js'

/** Semaphore acquisition options (the mutex-only ones do not apply). */
export type SemaphoreAcquireOptions = Pick<AcquireOptions, 'ttl' | 'waitTimeout' | 'autoExtend' | 'signal'>

/**
 * A counting semaphore: at most `limit` holders at once. Each permit is a lease that expires by the
 * server's clock (TIME in Lua), so a crashed holder frees its permit after its TTL and clients' clocks do
 * not matter. Permits carry fencing tokens, strictly increasing per semaphore.
 * @example
 * const sem = new Semaphore(conn, 'pdf-renderers', { limit: 4 })
 * const permit = await sem.acquire({ ttl: '30s', autoExtend: true })
 * try { await render() } finally { await permit.release() }
 */
export class Semaphore {
  /** The semaphore's name. */
  readonly name: string
  /** How many holders at once. */
  readonly limit: number
  readonly #conn: Connection
  readonly #keys: ReturnType<typeof semaphoreKeys>
  readonly #options: ReturnType<typeof parseSemaphore>
  readonly #notifier: Notifier
  readonly #acquire: ScriptFn<[0 | 1, number]>
  readonly #release: ScriptFn<number>
  readonly #extend: ScriptFn<number>

  constructor(conn: Connection, name: string, options: SemaphoreOptions) {
    this.name = checkName('name', name)
    this.#options = parseSemaphore(options)
    this.limit = this.#options.limit
    this.#conn = conn
    this.#keys = semaphoreKeys(conn.keys.child(this.#options.namespace), name)
    this.#notifier = notifierFor(conn)
    this.#acquire = conn.defineScript('locks:semaphore-acquire', semaphoreAcquire, { keys: 2 })
    this.#release = conn.defineScript('locks:semaphore-release', semaphoreRelease, { keys: 2 })
    this.#extend = conn.defineScript('locks:semaphore-extend', semaphoreExtend, { keys: 1 })
  }

  /**
   * Takes a permit, waiting up to `waitTimeout`.
   * @throws LockTimeoutError (E_LOCK_TIMEOUT), LockAbortedError (E_LOCK_ABORTED)
   */
  async acquire(options?: SemaphoreAcquireOptions): Promise<Lock> {
    return this.#take(parseAcquire(options), undefined)
  }

  /** One attempt: a permit, or null when all `limit` are taken. */
  async tryAcquire(options?: Omit<SemaphoreAcquireOptions, 'waitTimeout'>): Promise<Lock | null> {
    const o = parseAcquire(options)
    try {
      return await this.#take(o, 0)
    } catch (err) {
      if ((err as { code?: string }).code === 'E_LOCK_TIMEOUT') return null
      throw err
    }
  }

  /** Runs `fn` holding a permit, and always returns it. */
  async using<T>(
    options: SemaphoreAcquireOptions | undefined,
    fn: (permit: Lock) => Promise<T> | T,
  ): Promise<T> {
    return runHolding(() => this.acquire(options), fn)
  }

  /** How many permits are held now (expired ones excluded, by the server's clock). */
  async count(): Promise<number> {
    const k = this.#keys.holders
    const [sec, micro] = await this.#conn.send<[string, string]>(['TIME'], { key: k })
    const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000)
    return Number(await this.#conn.send(['ZCOUNT', k, `(${now}`, '+inf'], { key: k }))
  }

  async #take(o: ResolvedAcquire, waitTimeout: number | undefined): Promise<Lock> {
    const k = this.#keys
    const id = newOwner()
    const sharded = this.#notifier.sharded ? '1' : '0'
    const { value: token, startedAt } = await waitLoop<number>({
      resource: this.name,
      waitTimeoutMs: waitTimeout ?? o.waitTimeout,
      retryIntervalMs: this.#options.retryInterval,
      signal: o.signal,
      attempt: async () => {
        const startedAt = performance.now()
        const [status, value] = await this.#acquire(
          [k.holders, k.fence],
          [id, this.limit, o.ttl, this.#options.fencing],
        )
        if (status === 1) return { ok: true, value, startedAt }
        return { ok: false, retryInMs: value }
      },
      notify: { notifier: this.#notifier, channel: k.channel, accept: () => true },
    })
    return new Lock({
      resource: this.name,
      token,
      ttlMs: o.ttl,
      startedAt,
      autoExtend: o.autoExtend,
      ops: {
        extend: async (ttlMs) => (await this.#extend([k.holders], [id, ttlMs])) === 1,
        release: async () => (await this.#release([k.holders, k.channel], [id, sharded])) === 1,
      },
    })
  }
}

function parseSemaphore(options: SemaphoreOptions) {
  return parseOptions(PKG, semaphoreSchema, options)
}
