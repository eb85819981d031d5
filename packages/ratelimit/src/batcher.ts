import { type Connection, hashSlot, type ScriptFn } from '@cache/client'
import type { Bound } from './binding.js'
import type { RateLimitKeys } from './keys.js'
import type { RawReply } from './local.js'
import * as scripts from './scripts/index.js'
import type { EngineSettings } from './settings.js'

/** A request waiting for the next batch. */
interface Pending {
  mode: 'c' | 'p'
  key: string
  rules: Bound[]
  cost: number
  resolve: (reply: RawReply) => void
  reject: (err: unknown) => void
}

/** Requests per script call at most, so one call never holds the server for long. */
const MAX_BATCH = 64
const ALGO_SOURCES: Record<string, string> = {
  'fixed-window': scripts.fixedWindow,
  'sliding-window': scripts.slidingWindow,
  'sliding-log': scripts.slidingLog,
  'token-bucket': scripts.tokenBucket,
  gcra: scripts.gcra,
}

/** The Lua modules of the given algorithms (`+`-joined, sorted), each defining `ALGOS[name]`. @internal */
export function algorithmModules(algos: string): string {
  return `local ALGOS = {}\n${algos
    .split('+')
    .map((a) => ALGO_SOURCES[a])
    .join('\n')}\n`
}

/**
 * Sends decisions to Redis in batches: the requests of one tick go in one consume.lua call per node (per
 * slot on a cluster), built from the algorithms they use, with a compact encoding when they are alike.
 */
export class Batcher {
  readonly #conn: Connection
  readonly #keys: RateLimitKeys
  readonly #settings: EngineSettings
  readonly #scripts = new Map<string, ScriptFn<RawReply>>()
  readonly #queues = new Map<number, Pending[]>()
  #scheduled = false
  /** Script calls sent and not answered yet. */
  #inFlight = 0
  readonly #flushNow = (): void => this.#flush()

  constructor(conn: Connection, keys: RateLimitKeys, settings: EngineSettings) {
    this.#conn = conn
    this.#keys = keys
    this.#settings = settings
  }

  #script(algos: string, keyCount: number): ScriptFn<RawReply> {
    const id = `${algos}/${keyCount}`
    let fn = this.#scripts.get(id)
    if (!fn) {
      const source = `${algorithmModules(algos)}${scripts.consume}`
      // Batches group requests per node: per slot on a cluster (so cluster-safe), any keys on one server.
      fn = this.#conn.defineScript<RawReply>(`ratelimit:${id}`, source, {
        keys: keyCount,
        crossSlot: this.#conn.topology !== 'cluster',
      })
      this.#scripts.set(id, fn)
    }
    return fn
  }

  /**
   * Queues a request for the next batch, decided in order in one script call per node (per slot on a
   * cluster), each as if sent alone. With nothing in flight the batch goes at the end of this tick (no wait
   * at low concurrency); while a call is in flight it takes every request of this event-loop turn and goes
   * in its `setImmediate`: an HTTP server hands each request to its own callback (its own tick), so under
   * load a turn's requests go in one call instead of one each (node-redis writes in a `setImmediate` too).
   */
  send(mode: 'c' | 'p', key: string, rules: Bound[], cost: number): Promise<RawReply> {
    return new Promise<RawReply>((resolve, reject) => {
      const group = this.#conn.topology === 'cluster' ? hashSlot(rules[0]!.keys.state) : 0
      let queue = this.#queues.get(group)
      if (!queue) {
        queue = []
        this.#queues.set(group, queue)
      }
      queue.push({ mode, key, rules, cost, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        if (this.#inFlight === 0) process.nextTick(this.#flushNow)
        else setImmediate(this.#flushNow)
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const queues = [...this.#queues.values()]
    this.#queues.clear()
    for (const q of queues) {
      for (let i = 0; i < q.length; i += MAX_BATCH) void this.#sendBatch(q.slice(i, i + MAX_BATCH))
    }
  }

  /** Whether every request of the batch has the same mode, cost and rules (consume.lua's uniform encoding). */
  #uniform(batch: Pending[]): boolean {
    const first = batch[0]!
    const n = first.rules.length
    for (let b = 1; b < batch.length; b++) {
      const p = batch[b]!
      if (p.mode !== first.mode || p.cost !== first.cost || p.rules.length !== n) return false
      for (let i = 0; i < n; i++) if (p.rules[i]!.sig !== first.rules[i]!.sig) return false
    }
    return true
  }

  /**
   * The script call of a batch: the uniform encoding when every request is alike (a batch of one too: the
   * one-rule loop of the script, and fixed-window's one-HINCRBY consume, run on it), else per request.
   */
  #call(batch: Pending[]): { algos: string; keys: string[]; args: Array<string | number> } {
    const statsTtl = this.#settings.analyticsTtlMs
    const clock = this.#settings.clock === 'client' ? this.#settings.now() : ''
    const keys: string[] = []
    if (this.#uniform(batch)) {
      const first = batch[0]!
      const n = first.rules.length
      const args: Array<string | number> = [clock, statsTtl, n]
      const algos = new Set<string>()
      for (const r of first.rules) {
        const { algorithm, limit, windowMs, burst } = r.params
        args.push(r.name, algorithm, limit, windowMs, burst, r.penaltyMs)
        algos.add(algorithm)
      }
      args.push('u', first.mode, first.cost, n)
      for (let i = 1; i <= n; i++) args.push(i)
      args.push(batch.length)
      for (const p of batch) {
        for (const r of p.rules) {
          keys.push(r.keys.state)
          if (r.params.algorithm === 'sliding-log') keys.push(r.keys.log)
        }
        if (statsTtl > 0) keys.push(this.#keys.stats(p.key))
      }
      return { algos: [...algos].sort().join('+'), keys, args }
    }
    const index = new Map<string, number>()
    const params: Array<string | number> = []
    const requests: Array<string | number> = []
    const algos = new Set<string>()
    for (const p of batch) {
      requests.push(p.mode, p.cost, p.rules.length)
      for (const r of p.rules) {
        const { algorithm, limit, windowMs, burst } = r.params
        const sig = r.sig
        let i = index.get(sig)
        if (i === undefined) {
          i = index.size + 1
          index.set(sig, i)
          params.push(r.name, algorithm, limit, windowMs, burst, r.penaltyMs)
          algos.add(algorithm)
        }
        requests.push(i)
        keys.push(r.keys.state)
        if (algorithm === 'sliding-log') keys.push(r.keys.log)
      }
      if (statsTtl > 0) keys.push(this.#keys.stats(p.key))
    }
    return {
      algos: [...algos].sort().join('+'),
      keys,
      args: [clock, statsTtl, index.size, ...params, ...requests],
    }
  }

  async #sendBatch(batch: Pending[]): Promise<void> {
    try {
      const { algos, keys, args } = this.#call(batch)
      this.#inFlight++
      let reply: RawReply
      try {
        reply = await this.#script(algos, keys.length)(keys, args)
      } finally {
        this.#inFlight--
      }
      const now = Number(reply[0])
      let o = 1
      for (const p of batch) {
        // per rule: flags (allowed 1, blocked 2, 4 * retryAfterMs), remaining, resetAfterMs
        const one: RawReply = [1, now]
        for (let j = 0; j < p.rules.length; j++, o += 3) {
          const flags = Number(reply[o])
          const allowed = flags % 2
          if (allowed === 0) one[0] = 0
          one.push(
            allowed,
            Number(reply[o + 1]),
            Number(reply[o + 2]),
            Math.floor(flags / 4),
            Math.floor(flags / 2) % 2,
          )
        }
        p.resolve(one)
      }
    } catch (err) {
      for (const p of batch) p.reject(err)
    }
  }
}
