import type { Connection } from './connection.js'
import { CacheError } from './errors.js'
import { hashSlot } from './keys.js'
import type { ScriptFn } from './scripts-registry.js'

/** Requests per script call at most, so one call never holds the server for long. */
const MAX_BATCH = 64

/** One request waiting for the end of the tick. */
interface Pending<R> {
  keys: readonly string[]
  args: ReadonlyArray<string | number>
  resolve(reply: R): void
  reject(err: unknown): void
}

/** How a batch script is called and its reply split. */
export interface BatchScript<R> {
  /** The calling package, for error messages (`@cache/locks`). */
  pkg: string
  /** Script name (registered once, whatever the batch size). */
  name: string
  lua: string
  /** KEYS per request. */
  keysPerRequest: number
  /** ARGV before the requests' own (the same for every request of this batcher). */
  head: ReadonlyArray<string | number>
  /** The reply of request `i`, or a string: the server's error for that request alone. */
  pick(reply: unknown[], i: number): R | string
}

/**
 * Same-tick script calls of one connection in one EVALSHA (the script takes n requests of `keysPerRequest`
 * keys each and answers each in its slot of a flat reply; see @cache/locks' lock-acquire.lua): the requests made in one tick go in one call per
 * node (per slot on a cluster, so batches stay cluster-safe), decided in order by the script, each as if sent
 * alone. A request the server fails alone (a key of the wrong type) rejects alone; a failed call (connection,
 * timeout) rejects its whole batch, as it would each of the commands sent separately.
 */
export class ScriptBatcher<R> {
  readonly #s: BatchScript<R>
  readonly #cluster: boolean
  readonly #fn: ScriptFn<unknown[]>
  #queues = new Map<number, Pending<R>[]>()
  #scheduled = false

  constructor(conn: Connection, script: BatchScript<R>) {
    this.#s = script
    this.#cluster = conn.topology === 'cluster'
    // One definition for every batch size: one name in the instrumentation, one sha on the server.
    this.#fn = conn.defineScript<unknown[]>(script.name, script.lua, {
      keys: { multipleOf: script.keysPerRequest },
      // One server holds every key (standalone, Sentinel); a cluster batch is one slot.
      crossSlot: !this.#cluster,
    })
  }

  /**
   * Queues one request (`keys` share one slot) for the end of this tick.
   * @example const reply = await batcher.call([k.lock, k.fence], [owner, ttlMs])
   */
  call(keys: readonly string[], args: ReadonlyArray<string | number>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const group = this.#cluster ? hashSlot(keys[0]!) : 0
      let queue = this.#queues.get(group)
      if (!queue) {
        queue = []
        this.#queues.set(group, queue)
      }
      queue.push({ keys, args, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        process.nextTick(this.#flush)
      }
    })
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const queues = this.#queues
    this.#queues = new Map()
    for (const q of queues.values()) {
      if (q.length <= MAX_BATCH) void this.#send(q)
      else for (let i = 0; i < q.length; i += MAX_BATCH) void this.#send(q.slice(i, i + MAX_BATCH))
    }
  }

  async #send(batch: Pending<R>[]): Promise<void> {
    const s = this.#s
    let reply: unknown[]
    try {
      const keys: string[] = []
      const args: Array<string | number> = [...s.head]
      for (const p of batch) {
        for (const k of p.keys) keys.push(k)
        for (const a of p.args) args.push(a)
      }
      reply = await this.#fn(keys, args)
    } catch (err) {
      for (const p of batch) p.reject(err)
      return
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!
      const one = s.pick(reply, i)
      if (typeof one === 'string') {
        p.reject(
          new CacheError('E_COMMAND', `[${s.pkg}] ${s.name} failed on the server: ${one}`, {
            details: { script: s.name },
          }),
        )
      } else p.resolve(one)
    }
  }
}
