import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import {
  ClosedError,
  type Connection,
  type Duration,
  hgetallRecord,
  InvalidArgumentError,
  isCacheError,
  parseDuration,
  parseOptions,
} from '@cache/client'
import { findDeadlocks, type WaitEdge } from './diagnostics.js'
import { LockNotReplicatedError, LockTimeoutError } from './errors.js'
import { type MutexKeys, waitsKey } from './keys.js'
import { heldTooLongChannel, type LeaseOps, Lock, runHolding, waitChannel } from './lock.js'
import { type LockInfo, MutexStore, notifyFor } from './mutex-store.js'
import {
  type AcquireOptions,
  checkName,
  type LockManagerOptions,
  lockManagerSchema,
  PKG,
  parseAcquire,
  type ResolvedAcquire,
} from './options.js'
import { type Attempt, type ChannelMark, type Notifier, notifierFor, waitLoop } from './wait.js'

const OWNER_PREFIX = randomBytes(12).toString('base64url')
let ownerSeq = 0

/** A unique owner token for one acquisition: 96 random bits per process + a counter. */
export function newOwner(): string {
  return `${OWNER_PREFIX}${(++ownerSeq).toString(36)}`
}

/** A default process id for diagnostics: host:pid:random. */
export function defaultId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

/** Several locks taken together by `acquireAll`, released together. */
export class LockGroup {
  /** The locks, in acquisition order. */
  readonly locks: readonly Lock[]
  /** Aborted as soon as any of the locks is lost. */
  readonly signal: AbortSignal

  /** @internal */
  constructor(locks: Lock[]) {
    this.locks = locks
    this.signal = AbortSignal.any(locks.map((l) => l.signal))
  }

  /** Extends every lock; fails like `Lock.extend` with the first failure. */
  async extend(ttl?: Duration): Promise<void> {
    await Promise.all(this.locks.map((l) => l.extend(ttl)))
  }

  /** Releases every lock (in reverse order); throws the first failure after trying all. */
  async release(): Promise<void> {
    let first: unknown
    for (const lock of [...this.locks].reverse()) {
      try {
        await lock.release()
      } catch (err) {
        first ??= err
      }
    }
    if (first !== undefined) throw first
  }

  /** Releases at the end of an `await using` scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }
}

/** Options of `LockManager.heldLongerThan()`. */
export interface HeldLongerThanOptions {
  /** The caller's scan of the lock keys: MATCH pattern and TYPE in, batches of key names out. */
  scan?: (match: string, type: 'string') => AsyncIterable<readonly string[]>
}

/**
 * Mutual exclusion on Redis: leases with fencing tokens, owner-only release and extension (Lua), waiting by
 * pub/sub notification with a jittered fallback poll, optional FIFO fairness and reentrancy, a watchdog,
 * WAIT-for-replicas durability and diagnostics (who holds what, who waits for whom, deadlocks).
 *
 * Events: `held-too-long` ({ resource, token, heldMs }) when `heldTooLong` is set.
 * @example
 * const locks = new LockManager(conn)
 * await locks.using('report:2024', { ttl: '30s', autoExtend: true }, async (lock) => {
 *   await db.write(report, { fencingToken: lock.token })
 * })
 */
export class LockManager extends EventEmitter {
  /** This process's name in diagnostics. */
  readonly id: string
  readonly #store: MutexStore
  readonly #notifier: Notifier
  readonly #options: ReturnType<typeof resolveManager>
  readonly #defaults: ResolvedAcquire
  readonly #waitsKey: string
  /** Locks handed out and not released yet, released by `close()`. */
  readonly #live = new Set<Lock>()
  #closed = false

  constructor(conn: Connection, options: LockManagerOptions = {}) {
    super()
    this.#options = resolveManager(options)
    this.id = this.#options.id ?? defaultId()
    this.#store = new MutexStore(
      conn,
      this.#options.namespace,
      this.#options.fencing,
      this.#options.retryInterval,
      this.id,
    )
    this.#notifier = notifierFor(conn)
    this.#defaults = parseAcquire({})
    this.#waitsKey = waitsKey(this.#store.keys)
  }

  /**
   * Acquires `resource`, waiting up to `waitTimeout`.
   * @throws LockTimeoutError (E_LOCK_TIMEOUT), LockAbortedError (E_LOCK_ABORTED),
   * LockNotReplicatedError (E_LOCK_NOT_REPLICATED), InvalidOptionError (E_INVALID_OPTION)
   */
  acquire(resource: string, options?: AcquireOptions): Promise<Lock> {
    // Not an async function: returning #acquire's promise from one costs an extra promise and ticks per lock.
    let o: ResolvedAcquire
    try {
      checkName('resource', resource)
      this.#checkOpen()
      o = options === undefined ? this.#defaults : parseAcquire(options)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#acquire(resource, o, o.waitTimeout)
  }

  /** One attempt: the Lock, or null when someone else holds it. */
  async tryAcquire(resource: string, options?: Omit<AcquireOptions, 'waitTimeout'>): Promise<Lock | null> {
    checkName('resource', resource)
    this.#checkOpen()
    const o = options === undefined ? this.#defaults : parseAcquire(options)
    try {
      return await this.#acquire(resource, o, 0)
    } catch (err) {
      if (err instanceof LockTimeoutError) return null
      throw err
    }
  }

  /** Runs `fn` while holding `resource` and always releases (also when `fn` throws). */
  async using<T>(
    resource: string,
    options: AcquireOptions | undefined,
    fn: (lock: Lock) => Promise<T> | T,
  ): Promise<T> {
    return runHolding(() => this.acquire(resource, options), fn)
  }

  /**
   * Acquires several resources in one global order (sorted by key), so two callers with overlapping sets
   * can never deadlock; `waitTimeout` covers the whole set. On failure the ones taken are released.
   */
  async acquireAll(resources: readonly string[], options?: AcquireOptions): Promise<LockGroup> {
    if (!Array.isArray(resources) || resources.length === 0) checkName('resources', '')
    for (const r of resources) checkName('resources', r)
    this.#checkOpen()
    const o = options === undefined ? this.#defaults : parseAcquire(options)
    const ordered = [...new Set(resources)].sort((a, b) => {
      const ka = this.#store.keysOf(a).lock
      const kb = this.#store.keysOf(b).lock
      return ka < kb ? -1 : ka > kb ? 1 : 0
    })
    const deadline = performance.now() + o.waitTimeout
    const taken: Lock[] = []
    try {
      for (const r of ordered)
        taken.push(await this.#acquire(r, o, Math.max(0, deadline - performance.now())))
    } catch (err) {
      await Promise.all(taken.map((l) => l.release().catch(() => {})))
      throw err
    }
    return new LockGroup(taken)
  }

  /** The lock on `resource` as the server sees it, or null when free. */
  inspect(resource: string): Promise<LockInfo | null> {
    return this.#store.inspect(checkName('resource', resource))
  }

  /**
   * Locks (under this manager's prefix) held longer than `threshold`, by the server's clock; SCANs every
   * master. `options.scan` replaces that SCAN with the caller's (a throttled or resumable one, as the
   * `cache locks` command runs): it gets the MATCH pattern and TYPE of the lock keys and yields batches of
   * key names; the manager reads and decodes each key it yields.
   */
  async heldLongerThan(threshold: Duration, options: HeldLongerThanOptions = {}): Promise<LockInfo[]> {
    const ms = parseDuration(threshold, { field: 'threshold', pkg: PKG })
    if (options.scan !== undefined && typeof options.scan !== 'function')
      throw new InvalidArgumentError(
        PKG,
        'options.scan',
        'must be a function (match, type) => AsyncIterable<string[]>',
      )
    const match = this.#store.keys.pattern('{*}')
    const batches = options.scan
      ? options.scan(match, 'string')
      : this.#store.conn.scan(match, { type: 'string' })
    const out: LockInfo[] = []
    for await (const batch of batches) {
      for (const key of batch) {
        const tag = key.slice(this.#store.keys.prefix.length + 1, -1)
        let resource = tag
        try {
          resource = decodeURIComponent(tag)
        } catch {}
        const info = await this.#store.inspectKey(key, resource)
        if (info && info.heldMs >= ms) out.push(info)
      }
    }
    return out
  }

  /**
   * The wait-for view: which process (`waiter`, a LockManager id) waits for which resource, and which
   * process holds it. Waiters register while they wait (entries of crashed waiters are dropped when stale).
   */
  async waitFor(): Promise<WaitEdge[]> {
    const key = this.#waitsKey
    const waits = hgetallRecord(await this.#store.conn.send(['HGETALL', key], { key }))
    const now = Date.now()
    const edges: WaitEdge[] = []
    for (const value of Object.values(waits)) {
      const entry = JSON.parse(String(value)) as { w: string; r: string; s: number; u: number }
      if (entry.u < now) continue
      const info = await this.#store.inspect(entry.r)
      edges.push({ waiter: entry.w, resource: entry.r, holder: info?.holder, waitingMs: now - entry.s })
    }
    return edges
  }

  /** Cycles in the wait-for view: processes that wait for each other (each cycle lists process ids). */
  async deadlocks(): Promise<string[][]> {
    return findDeadlocks(await this.waitFor())
  }

  /**
   * Releases every lock this manager handed out that is still held, and refuses new acquisitions
   * (E_CLOSED). Idempotent. The connection stays open (it is the caller's).
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const held = [...this.#live].filter((l) => l.held)
    this.#live.clear()
    await Promise.all(held.map((l) => l.release().catch(() => {})))
  }

  /** `await using locks = new LockManager(conn)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`[${PKG}] the LockManager is closed`)
  }

  /** One acquisition attempt on the server. */
  async #attempt(
    k: MutexKeys,
    owner: string,
    o: ResolvedAcquire,
    waited: boolean,
    willWait: boolean,
  ): Promise<Attempt<number>> {
    const startedAt = performance.now()
    const [status, value, extra] = await this.#store.acquire(
      k,
      owner,
      o.ttl,
      o.fair,
      this.#options.retryInterval * 4,
      o.reentrant,
      waited,
      willWait,
      takesHandoff(o),
    )
    if (status === 1) return { ok: true, value, startedAt }
    // Handed over by a release whose notification this waiter missed: the lease has `extra` ms left.
    if (status === 4) return { ok: true, value, startedAt: startedAt + Number(extra) - o.ttl }
    return { ok: false, retryInMs: status === 0 ? value : 0, holder: String(extra), sentAt: startedAt }
  }

  async #acquire(resource: string, o: ResolvedAcquire, waitTimeoutMs: number): Promise<Lock> {
    const store = this.#store
    const k = store.keysOf(resource)
    const owner = o.owner ?? newOwner()
    const willWait = waitTimeoutMs > 0
    // The uncontended case skips the wait machinery altogether (and allocates none of it).
    const t0 = performance.now()
    let first: Attempt<number> | undefined
    // Where the wake-up channel stood before the first attempt (undefined unless this process subscribes it).
    const since = willWait ? this.#notifier.mark(k.channel) : undefined
    if (!o.signal?.aborted) first = await this.#attempt(k, owner, o, false, willWait)
    let acquired: { value: number; startedAt: number }
    try {
      if (first?.ok === true) acquired = first
      else {
        let waited = first !== undefined
        const attempt = async () => {
          const result = await this.#attempt(k, owner, o, waited, willWait)
          waited = true
          return result
        }
        acquired = await this.#wait(resource, o, waitTimeoutMs, k, owner, attempt, first, since)
      }
    } catch (err) {
      if (waitChannel.hasSubscribers) {
        const outcome = isCacheError(err, 'E_LOCK_TIMEOUT')
          ? 'timeout'
          : o.signal?.aborted
            ? 'aborted'
            : 'error'
        waitChannel.publish({ resource, outcome, waitedMs: performance.now() - t0 })
      }
      throw err
    }
    const { value: token, startedAt } = acquired
    if (waitChannel.hasSubscribers)
      waitChannel.publish({ resource, outcome: 'acquired', waitedMs: startedAt - t0 })
    const heldTooLongMs = this.#options.heldTooLong
    const ops = new MutexLease(store, k, owner, token, this.#live)
    const lock: Lock = new Lock({
      resource,
      token,
      ttlMs: o.ttl,
      startedAt,
      autoExtend: o.autoExtend,
      ops,
      heldTooLongMs,
      onHeldTooLong: heldTooLongMs === undefined ? undefined : this.#onHeldTooLong,
    })
    ops.lock = lock
    if (this.#live.size >= 256) for (const l of this.#live) if (!l.held) this.#live.delete(l)
    this.#live.add(lock)
    if (o.waitReplicas > 0) await this.#waitReplicas(lock, k.lock, o)
    return lock
  }

  readonly #onHeldTooLong = (l: Lock, heldMs: number): void => {
    const event = { resource: l.resource, token: l.token, heldMs }
    if (heldTooLongChannel.hasSubscribers) heldTooLongChannel.publish(event)
    this.emit('held-too-long', event)
  }

  #wait(
    resource: string,
    o: ResolvedAcquire,
    waitTimeoutMs: number,
    k: MutexKeys,
    owner: string,
    attempt: () => Promise<Attempt<number>>,
    first: Attempt<number> | undefined,
    since: ChannelMark | undefined,
  ): Promise<{ value: number; startedAt: number }> {
    const store = this.#store
    const waits = this.#waitsKey
    const waitsField = `${this.id}|${owner}`
    const direct = takesHandoff(o)
    return waitLoop<number>({
      resource,
      waitTimeoutMs,
      retryIntervalMs: this.#options.retryInterval,
      signal: o.signal,
      first,
      attempt,
      notify: notifyFor(this.#notifier, k, owner, o.fair, direct, since),
      onWait: () => {
        const now = Date.now()
        const entry = JSON.stringify({ w: this.id, r: resource, s: now, u: now + waitTimeoutMs + 1000 })
        void store.conn.send(['HSET', waits, waitsField, entry], { key: waits }).catch(() => {})
      },
      onWaitEnd: () => void store.conn.send(['HDEL', waits, waitsField], { key: waits }).catch(() => {}),
      onGiveUp: () => store.giveUp(k, owner, direct, o.ttl, this.#options.retryInterval * 4),
    })
  }

  async #waitReplicas(lock: Lock, key: string, o: ResolvedAcquire): Promise<void> {
    let acked = 0
    try {
      acked = Number(
        await this.#store.conn.send(['WAIT', String(o.waitReplicas), String(o.replicaTimeout)], {
          key,
          timeoutMs: o.replicaTimeout + this.#store.conn.config.commandTimeoutMs,
        }),
      )
    } catch (err) {
      await lock.release().catch(() => {})
      throw err
    }
    if (acked < o.waitReplicas) {
      await lock.release().catch(() => {})
      throw new LockNotReplicatedError(lock.resource, acked, o.waitReplicas)
    }
  }
}

/**
 * The server-side operations of one mutex lease. A class rather than two closures per lock: a lock cycle
 * is a few microseconds of client work and per-lock closures (and their GC) were a visible share of it.
 */
class MutexLease implements LeaseOps {
  lock: Lock | undefined
  readonly #store: MutexStore
  readonly #k: MutexKeys
  readonly #owner: string
  readonly #token: number
  readonly #live: Set<Lock>

  constructor(store: MutexStore, k: MutexKeys, owner: string, token: number, live: Set<Lock>) {
    this.#store = store
    this.#k = k
    this.#owner = owner
    this.#token = token
    this.#live = live
  }

  extend(ttlMs: number): Promise<boolean> {
    return this.#store.extend(this.#k, this.#owner, this.#token, ttlMs).then(isOne)
  }

  release(): Promise<boolean> {
    if (this.lock) this.#live.delete(this.lock)
    return this.#store.release(this.#k, this.#owner, this.#token).then(isNotZero)
  }
}

/**
 * Whether a release may hand the lock straight to this acquisition: its owner is generated (unique to it, so
 * "the lock holds my owner" can only mean "handed to me"), and it does not wait for replicas (WAIT covers
 * only the writes of the waiter's own connection, and a handed lease is written by the releaser's).
 */
function takesHandoff(o: ResolvedAcquire): boolean {
  return o.owner === undefined && o.waitReplicas === 0
}

const isOne = (reply: number): boolean => reply === 1
const isNotZero = (reply: number): boolean => reply !== 0

function resolveManager(options: LockManagerOptions) {
  return parseOptions(PKG, lockManagerSchema, options)
}
