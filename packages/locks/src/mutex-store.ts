import { type Connection, type KeyBuilder, ScriptBatcher, type ScriptFn } from '@cache/client'
import { type MutexKeys, mutexKeys } from './keys.js'
import { type FencingMode, PKG } from './options.js'
import { lockAcquire, lockExtend, lockInspect, lockRelease } from './scripts/index.js'
import type { ChannelMark, Notifier } from './wait.js'

/** Resources whose keys are memoised per store (cleared when full: a bound, not an LRU). */
const KEY_CACHE_SIZE = 1024

/**
 * The reply of lock-acquire.lua: 1 acquired (token, hold count), 0 busy (pttl, holder), 2 queued (retry hint),
 * 4 a release had already handed the lock to this waiter (token, pttl).
 */
export type AcquireReply = [status: 0 | 1 | 2 | 4, value: number, extra: number | string]

/** A direct handoff published by lock-release.lua for one waiter: its token and the ms since its entry. */
export interface Handoff {
  token: number
  elapsedMs: number
}

/** A lock as the server sees it (diagnostics). */
export interface LockInfo {
  resource: string
  /** The owner token of the current lease (opaque). */
  owner: string
  /** The fencing token of the current lease. */
  token: number
  /** The holder process's id (LockManager `id`). */
  holder: string
  /** Milliseconds since acquisition, by the server's clock. */
  heldMs: number
  /** Milliseconds until the lease expires, by the server's clock. */
  ttlMs: number
  /** Nesting depth of a reentrant lock. */
  holdCount: number
  /** Waiters in the fair queue. */
  queued: number
}

/** One Connection's mutex scripts and keys. @internal shared by LockManager and Redlock. */
export class MutexStore {
  readonly conn: Connection
  readonly keys: KeyBuilder
  readonly fencing: FencingMode
  readonly sharded: boolean
  readonly #acquire: ScriptBatcher<AcquireReply>
  readonly #release: ScriptBatcher<number>
  readonly #extend: ScriptFn<number>
  readonly #inspect: ScriptFn<Array<string | number>>
  readonly #keyCache = new Map<string, MutexKeys>()
  readonly #holder: string

  /** How long a release with waiters reserves the lock for a woken waiter. */
  readonly handoffMs: number

  /**
   * @param holder the process's id, recorded in each lease for diagnostics
   */
  constructor(
    conn: Connection,
    namespace: string,
    fencing: FencingMode,
    retryIntervalMs: number,
    holder: string,
  ) {
    this.conn = conn
    this.#holder = holder
    this.handoffMs = Math.min(50, Math.max(5, Math.round(retryIntervalMs / 10)))
    this.keys = conn.keys.child(namespace)
    this.fencing = fencing
    this.sharded = conn.topology === 'cluster'
    // Same-tick acquisitions (and releases) of this connection go in one script call: at concurrency the
    // fixed cost of a script call (server and client) is paid once per tick instead of once per lock.
    this.#acquire = new ScriptBatcher<AcquireReply>(conn, {
      pkg: PKG,
      name: 'locks:lock-acquire',
      lua: lockAcquire,
      keysPerRequest: 5,
      head: [fencing, holder],
      pick: (r, i) => {
        const status = r[3 * i] as AcquireReply[0] | 3
        if (status === 3) return String(r[3 * i + 2])
        return [status, r[3 * i + 1] as number, r[3 * i + 2] as number | string]
      },
    })
    this.#release = new ScriptBatcher<number>(conn, {
      pkg: PKG,
      name: 'locks:lock-release',
      lua: lockRelease,
      keysPerRequest: 6,
      head: [this.sharded ? '1' : '0', this.handoffMs, fencing],
      pick: (r, i) => r[i] as number | string,
    })
    this.#extend = conn.defineScript<number>('locks:lock-extend', lockExtend, { keys: 1 })
    this.#inspect = conn.defineScript('locks:lock-inspect', lockInspect, { keys: 2 })
  }

  /** The keys of `resource`, memoised: building (and escaping) six keys per acquisition is avoidable work. */
  keysOf(resource: string): MutexKeys {
    let k = this.#keyCache.get(resource)
    if (k === undefined) {
      if (this.#keyCache.size >= KEY_CACHE_SIZE) this.#keyCache.clear()
      k = mutexKeys(this.keys, resource)
      this.#keyCache.set(resource, k)
    }
    return k
  }

  acquire(
    k: MutexKeys,
    owner: string,
    ttlMs: number,
    fair: boolean,
    queueEntryTtlMs: number,
    reentrant: boolean,
    waited: boolean,
    willWait: boolean,
    direct: boolean,
  ): Promise<AcquireReply> {
    return this.#acquire.call(
      [k.lock, k.fence, k.queue, k.deadlines, k.waiters],
      [
        owner,
        ttlMs,
        queueEntryTtlMs,
        `${fair ? '1' : '0'}${reentrant ? '1' : '0'}${waited ? '1' : '0'}${willWait ? '1' : '0'}${direct ? '1' : '0'}`,
      ],
    )
  }

  /** 1 released, 2 still held (reentrant), 0 not the owner. */
  release(k: MutexKeys, owner: string, token: number): Promise<number> {
    return this.#release.call(this.#releaseKeys(k), [owner, String(token)])
  }

  #releaseKeys(k: MutexKeys): string[] {
    return [k.lock, k.channel, k.queue, k.deadlines, k.waiters, k.fence]
  }

  /**
   * A waiter gives up (timeout, abort): it leaves the waiters and the fair queue (one script call), and for a
   * `direct` waiter a lock that a release handed it meanwhile (its notification arriving too late) goes to the
   * next waiter. `ttlMs` and `queueEntryTtlMs` are the ones its attempts sent (they name its entry).
   */
  async giveUp(
    k: MutexKeys,
    owner: string,
    direct: boolean,
    ttlMs: number,
    queueEntryTtlMs: number,
  ): Promise<void> {
    const member = direct ? `${owner}\n${ttlMs}\n${queueEntryTtlMs}\n${this.#holder}` : owner
    await this.#release.call(this.#releaseKeys(k), [member, ''])
  }

  /** 1 extended, 0 not the owner. */
  extend(k: MutexKeys, owner: string, token: number, ttlMs: number): Promise<number> {
    return this.#extend([k.lock], [owner, String(token), ttlMs])
  }

  inspect(resource: string): Promise<LockInfo | null> {
    return this.inspectKey(this.keysOf(resource).lock, resource)
  }

  /** Reads the lock at `lockKey` (found by SCAN); `resource` labels the result. */
  async inspectKey(lockKey: string, resource: string): Promise<LockInfo | null> {
    const r = await this.#inspect([lockKey, `${lockKey}:q`])
    if (r.length === 0) return null
    return {
      resource,
      owner: String(r[0]),
      token: Number(r[1]),
      holder: String(r[2]),
      heldMs: Number(r[3]),
      ttlMs: Number(r[4]),
      holdCount: Number(r[5]),
      queued: Number(r[6]),
    }
  }

  /**
   * Wake-up filter: a direct handoff ("\nowner\ntoken\nelapsed": the leading line break sets it apart from a
   * message naming an owner or queue entry) wakes only its waiter; in a fair queue only the named head wakes;
   * '' wakes everyone.
   */
  static accept(owner: string, fair: boolean): (message: string) => boolean {
    const mine = `\n${owner}\n`
    return fair
      ? (m) => m === '' || m === owner || m.startsWith(mine)
      : (m) => m.charCodeAt(0) !== 10 || m.startsWith(mine)
  }

  /** The handoff a message gives `owner`, if it is one. */
  static handoff(owner: string): (message: string) => Handoff | undefined {
    const mine = `\n${owner}\n`
    return (m) => {
      if (!m.startsWith(mine)) return undefined
      const at = m.indexOf('\n', mine.length)
      return { token: Number(m.slice(mine.length, at)), elapsedMs: Number(m.slice(at + 1)) }
    }
  }
}

/** Used by waiters: the notifier options for a resource; `direct` waiters take handoffs. @internal */
export function notifyFor(
  notifier: Notifier,
  k: MutexKeys,
  owner: string,
  fair: boolean,
  direct: boolean,
  since: ChannelMark | undefined,
) {
  return {
    notifier,
    channel: k.channel,
    since,
    accept: MutexStore.accept(owner, fair),
    handoff: direct ? MutexStore.handoff(owner) : undefined,
  }
}
