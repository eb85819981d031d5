import { type Arg, type Connection, hashSlot } from '@cache/client'

/** A read waiting for the end of the tick. */
interface PendingRead {
  key: string
  rk: string
  /** Counted in the stats (false for getOrSet's re-reads inside a flight). */
  count: boolean
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

const noop = (): void => {}

/** What the coalescer needs from its cache. */
export interface CoalescerOptions<T> {
  /** Coalesce same-tick reads into MGETs (else one GET each). */
  coalesce: boolean
  /** Most keys in one MGET. */
  maxBatch: number
  /** Decodes one reply and, when `count`, counts the hit/miss (throws a counted DecodeError). */
  settle(key: string, raw: Buffer | null, count: boolean): T | undefined
  /** Counts an error and returns it. */
  fail<E>(err: E): E
  /** Records one read's latency (ms). */
  latency(ms: number): void
}

/**
 * Single-key reads: sent at once when nothing is in flight (low concurrency), otherwise collected for the
 * rest of the tick and sent as MGETs (per cluster slot, at most `maxBatch` keys each). Every read settles on
 * its own, so one undecodable value fails alone.
 */
export class ReadCoalescer<T> {
  readonly #conn: Connection
  readonly #o: CoalescerOptions<T>
  readonly #cluster: boolean
  #pending: PendingRead[] = []
  /** GET/MGET commands in flight. */
  #reads = 0
  /** The read being enqueued by `#enqueue` (set just before `new Promise`). */
  #next: PendingRead | undefined

  constructor(conn: Connection, options: CoalescerOptions<T>) {
    this.#conn = conn
    this.#o = options
    this.#cluster = conn.topology === 'cluster'
  }

  /** Reads the value key `rk` of user key `key` (`count: false`: not a hit or miss of its own). */
  read(key: string, rk: string, count = true): Promise<T | undefined> {
    // Nothing in flight (low concurrency): send now, no waiting for the tick to end. Otherwise collect
    // the reads of this tick and send them as MGETs when it ends.
    if (!this.#o.coalesce || (this.#reads === 0 && this.#pending.length === 0)) {
      this.#reads++
      const t0 = performance.now()
      return this.#conn.send<Buffer | null>(['GET', rk], { key: rk, buffers: true }).then(
        (raw) => {
          this.#reads--
          this.#o.latency(performance.now() - t0)
          return this.#o.settle(key, raw, count)
        },
        (err: unknown) => {
          this.#reads--
          throw this.#o.fail(err)
        },
      )
    }
    // One shared executor (it runs synchronously inside the constructor) instead of a closure per read.
    this.#next = { key, rk, count, resolve: noop, reject: noop }
    return new Promise<T | undefined>(this.#enqueue)
  }

  readonly #enqueue = (resolve: (value: T | undefined) => void, reject: (err: unknown) => void): void => {
    const r = this.#next as PendingRead
    this.#next = undefined
    r.resolve = resolve as (value: unknown) => void
    r.reject = reject
    if (this.#pending.push(r) === 1) process.nextTick(this.#flush)
  }

  readonly #flush = (): void => {
    const batch = this.#pending
    this.#pending = []
    const t0 = performance.now()
    const max = this.#o.maxBatch
    if (!this.#cluster) {
      for (let i = 0; i < batch.length; i += max)
        this.#readBatch(batch.length <= max ? batch : batch.slice(i, i + max), t0)
      return
    }
    const bySlot = new Map<number, PendingRead[]>()
    for (const r of batch) {
      const slot = hashSlot(r.rk)
      const group = bySlot.get(slot)
      if (group) group.push(r)
      else bySlot.set(slot, [r])
    }
    for (const group of bySlot.values()) {
      for (let i = 0; i < group.length; i += max) this.#readBatch(group.slice(i, i + max), t0)
    }
  }

  /** One GET (or MGET) for reads that share a slot; every read settles on its own (one bad value fails alone). */
  #readBatch(batch: PendingRead[], t0: number): void {
    const first = batch[0] as PendingRead
    this.#reads++
    const done = () => {
      this.#reads--
      const ms = performance.now() - t0
      for (let i = 0; i < batch.length; i++) this.#o.latency(ms)
    }
    const deliver = (r: PendingRead, raw: Buffer | null) => {
      try {
        r.resolve(this.#o.settle(r.key, raw, r.count))
      } catch (err) {
        r.reject(err)
      }
    }
    const failAll = (err: unknown) => {
      done()
      for (const r of batch) r.reject(this.#o.fail(err))
    }
    if (batch.length === 1) {
      this.#conn.send<Buffer | null>(['GET', first.rk], { key: first.rk, buffers: true }).then((raw) => {
        done()
        deliver(first, raw)
      }, failAll)
      return
    }
    const args: Arg[] = ['MGET']
    for (const r of batch) args.push(r.rk)
    this.#conn.send<Array<Buffer | null>>(args, { key: first.rk, buffers: true }).then((raws) => {
      done()
      for (let i = 0; i < batch.length; i++) deliver(batch[i] as PendingRead, raws[i] ?? null)
    }, failAll)
  }
}
