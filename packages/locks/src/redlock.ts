import {
  type Connection,
  InvalidArgumentError,
  InvalidOptionError,
  parseOptions,
  withDeadline,
} from '@cache/client'
import { LockTimeoutError } from './errors.js'
import { Lock, runHolding, validUntil } from './lock.js'
import { newOwner } from './lock-manager.js'
import { MutexStore } from './mutex-store.js'
import {
  type AcquireOptions,
  checkName,
  PKG,
  parseAcquire,
  type RedlockOptions,
  type ResolvedAcquire,
  redlockSchema,
} from './options.js'
import { type Attempt, waitLoop } from './wait.js'

/** Redlock acquisition options. */
export type RedlockAcquireOptions = Pick<AcquireOptions, 'ttl' | 'waitTimeout' | 'autoExtend' | 'signal'>

/**
 * The Redlock algorithm over several independent Redis masters (not replicas of each other): a lock is
 * held when a quorum of nodes granted it within its validity time. Survives the loss of a minority of
 * nodes. Its fencing token (the highest of the nodes' tokens) is NOT guaranteed to increase across
 * holders: when you need fencing, use a LockManager on one deployment with `waitReplicas`.
 * @example
 * const redlock = new Redlock([connA, connB, connC])
 * await redlock.using('job:7', { ttl: '5s' }, async (lock) => run(lock.signal))
 */
export class Redlock {
  /** Nodes that must grant a lock. */
  readonly quorum: number
  readonly #stores: MutexStore[]
  readonly #options: ReturnType<typeof parseRedlock>
  readonly #id: string

  constructor(connections: readonly Connection[], options: RedlockOptions = {}) {
    if (!Array.isArray(connections) || connections.length === 0) {
      throw new InvalidArgumentError(PKG, 'connections', 'must be a non-empty array of connections')
    }
    this.#options = parseRedlock(options)
    const quorum = this.#options.quorum ?? Math.floor(connections.length / 2) + 1
    if (quorum > connections.length || quorum <= connections.length / 2) {
      throw new InvalidOptionError(
        PKG,
        'quorum',
        `must be a majority of the ${connections.length} nodes (${Math.floor(connections.length / 2) + 1} to ${connections.length}), got ${quorum}`,
      )
    }
    this.quorum = quorum
    this.#id = `redlock:${process.pid}`
    this.#stores = connections.map(
      (c) =>
        new MutexStore(
          c,
          this.#options.namespace,
          this.#options.fencing,
          this.#options.retryInterval,
          this.#id,
        ),
    )
  }

  /** Acquires `resource` on a quorum of nodes, retrying (jittered) up to `waitTimeout`. @throws LockTimeoutError */
  async acquire(resource: string, options?: RedlockAcquireOptions): Promise<Lock> {
    checkName('resource', resource)
    const o = parseAcquire(options)
    return this.#acquire(resource, o, o.waitTimeout)
  }

  /** One attempt: the Lock, or null without a quorum. */
  async tryAcquire(
    resource: string,
    options?: Omit<RedlockAcquireOptions, 'waitTimeout'>,
  ): Promise<Lock | null> {
    checkName('resource', resource)
    try {
      return await this.#acquire(resource, parseAcquire(options), 0)
    } catch (err) {
      if (err instanceof LockTimeoutError) return null
      throw err
    }
  }

  /** Runs `fn` holding `resource` and always releases. */
  async using<T>(
    resource: string,
    options: RedlockAcquireOptions | undefined,
    fn: (lock: Lock) => Promise<T> | T,
  ): Promise<T> {
    return runHolding(() => this.acquire(resource, options), fn)
  }

  async #acquire(resource: string, o: ResolvedAcquire, waitTimeoutMs: number): Promise<Lock> {
    const owner = newOwner()
    const nodeTimeout = this.#options.nodeTimeout
    const markerTtl = this.#options.retryInterval * 4
    const tokens = new Map<MutexStore, number>()
    const keys = this.#stores.map((s) => s.keysOf(resource))
    let granted = 0
    const releaseAll = async (): Promise<number> => {
      const results = await Promise.allSettled(
        this.#stores.map((s, i) => {
          const token = tokens.get(s)
          return token === undefined
            ? Promise.resolve(0)
            : withDeadline(s.release(keys[i]!, owner, token), nodeTimeout, 'redlock release')
        }),
      )
      return results.filter((r) => r.status === 'fulfilled' && r.value !== 0).length
    }
    let waited = false
    const attempt = async (): Promise<Attempt<number>> => {
      tokens.clear()
      const startedAt = performance.now()
      const results = await Promise.allSettled(
        this.#stores.map((s, i) =>
          withDeadline(
            // No direct handoff: one node handing its share to a waiter does not make a quorum.
            s.acquire(keys[i]!, owner, o.ttl, false, markerTtl, false, waited, waitTimeoutMs > 0, false),
            nodeTimeout,
            'redlock acquire',
          ),
        ),
      )
      let maxWait = 0
      results.forEach((r, i) => {
        if (r.status !== 'fulfilled') return
        const [status, value] = r.value
        if (status === 1) tokens.set(this.#stores[i]!, value)
        else maxWait = Math.max(maxWait, value)
      })
      waited = true
      granted = tokens.size
      if (granted >= this.quorum && validUntil(startedAt, o.ttl) > performance.now()) {
        return { ok: true, value: Math.max(...tokens.values()), startedAt }
      }
      await releaseAll()
      return { ok: false, retryInMs: maxWait }
    }
    let token: number
    let startedAt: number
    try {
      ;({ value: token, startedAt } = await waitLoop<number>({
        resource,
        waitTimeoutMs,
        retryIntervalMs: this.#options.retryInterval,
        signal: o.signal,
        attempt,
      }))
    } catch (err) {
      if (err instanceof LockTimeoutError) {
        throw new LockTimeoutError(resource, o.waitTimeout, { quorum: this.quorum, granted }, err.cause)
      }
      throw err
    }
    const held = new Map(tokens)
    return new Lock({
      resource,
      token,
      ttlMs: o.ttl,
      startedAt,
      autoExtend: o.autoExtend,
      ops: {
        extend: async (ttlMs) => {
          const results = await Promise.allSettled(
            this.#stores.map((s, i) => {
              const t = held.get(s)
              return t === undefined
                ? Promise.resolve(0)
                : withDeadline(s.extend(keys[i]!, owner, t, ttlMs), nodeTimeout, 'redlock extend')
            }),
          )
          const ok = results.filter((r) => r.status === 'fulfilled' && r.value === 1).length
          if (ok >= this.quorum) return true
          const lost = results.filter((r) => r.status === 'fulfilled' && r.value === 0).length
          // Too few nodes answered at all: unknown, not lost; the watchdog retries until the lease ends.
          if (held.size - lost < this.quorum) return false
          throw new Error(`only ${ok} of ${this.quorum} nodes confirmed the extension`)
        },
        release: async () => {
          tokens.clear()
          for (const [s, t] of held) tokens.set(s, t)
          return (await releaseAll()) >= this.quorum
        },
      },
    })
  }
}

function parseRedlock(options: RedlockOptions) {
  return parseOptions(PKG, redlockSchema, options)
}
