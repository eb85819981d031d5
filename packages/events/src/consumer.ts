import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import {
  type CacheError,
  type Duration,
  InvalidArgumentError,
  isCacheError,
  parseDuration,
  parseOptions,
  toCacheError,
} from '@cache/client'
import {
  type ConsumerOptions,
  type ConsumerStats,
  type EventHandler,
  optionsSchema,
  type Resolved,
} from './consumer-options.js'
import * as D from './defaults.js'
import { deadLetterChannel, invalidChannel } from './diagnostics.js'
import { decodeEntry } from './envelope.js'
import { InvalidPayloadError } from './errors.js'
import { openReader, type Reader } from './reader.js'
import { parseClaimReply, parseReadReply, type RawEntry } from './replies.js'
import type { StreamContext } from './stream-context.js'

const PKG = '@cache/events'

/**
 * A member of a consumer group reading one stream (create it with `stream.consume()`). Reads on its own
 * blocking connection, runs at most `concurrency` handlers, acknowledges after success (acks batched per
 * event-loop turn), reclaims idle pending entries with XAUTOCLAIM, dead-letters after `maxDeliveries`.
 *
 * Events: `error` (CacheError: read, ack or dead-letter failures; the consumer keeps going), `ack`
 * ({ ids, acked } per XACK batch), `failed` ({ id, error, deliveries }), `invalid` ({ id, error }),
 * `dead-letter` ({ id, reason, deliveries }), `close`.
 */
export class Consumer<T = unknown> extends EventEmitter {
  /** The group's name. */
  readonly group: string
  /** This consumer's name in the group. */
  readonly name: string
  /** The resolved options (frozen). */
  readonly options: Readonly<Resolved>
  readonly #ctx: StreamContext
  readonly #handler: EventHandler<T>
  readonly #inFlight = new Set<string>()
  readonly #claimEveryMs: number
  readonly #stats = { read: 0, claimed: 0, processed: 0, acked: 0, failed: 0, deadLettered: 0, invalid: 0 }
  #acks: string[] = []
  #ackScheduled = false
  readonly #ackFlushes = new Set<Promise<void>>()
  #reader: Reader | undefined
  #groupReady = false
  #cursor = '0-0'
  #reading: Promise<unknown> | undefined
  #stopping = false
  #closing: Promise<void> | undefined
  #slotWaiter: (() => void) | undefined
  #idleWaiters: Array<() => void> = []
  #wake: (() => void) | undefined
  #readyResolve!: () => void
  readonly #ready: Promise<void>
  readonly #loop: Promise<void>

  /** @internal use `stream.consume()`. */
  constructor(ctx: StreamContext, options: ConsumerOptions, handler: EventHandler<T>) {
    super()
    this.options = parseOptions(PKG, optionsSchema, options)
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(PKG, 'handler', `must be a function`)
    }
    this.#ctx = ctx
    this.#handler = handler
    this.group = this.options.group
    this.name = this.options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
    this.#claimEveryMs = Math.max(10, Math.min(Math.floor(this.options.claimIdleMs / 2), 5_000))
    this.#ready = new Promise((resolve) => {
      this.#readyResolve = resolve
    })
    this.#loop = this.#run()
  }

  /** Resolves once the group exists and the consumer is reading (or closing). */
  ready(): Promise<void> {
    return this.#ready
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<ConsumerStats> {
    return { ...this.#stats, inFlight: this.#inFlight.size }
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#stopping
  }

  async #setup(): Promise<void> {
    const { conn, key } = this.#ctx
    if (!this.#groupReady) {
      try {
        await conn.send(['XGROUP', 'CREATE', key, this.group, this.options.startId, 'MKSTREAM'], { key })
      } catch (err) {
        if (!(isCacheError(err, 'E_COMMAND') && /BUSYGROUP/.test(err.message))) throw err
      }
      this.#groupReady = true
    }
    this.#reader ??= await openReader(conn, key, (err) => this.#emitError(toCacheError(err, 'reader')))
  }

  async #run(): Promise<void> {
    let backoff = D.READ_BACKOFF_MS
    let nextClaimAt = 0
    // While XAUTOCLAIM scans a long pending list, claims and reads alternate so new entries are not starved.
    let claimTurn = true
    while (!this.#stopping) {
      try {
        if (!this.#groupReady || !this.#reader) await this.#setup()
        this.#readyResolve()
        await this.#waitForSlot()
        if (this.#stopping) break
        if (claimTurn && Date.now() >= nextClaimAt) {
          const more = await this.#claim()
          if (more) claimTurn = false
          else nextClaimAt = Date.now() + this.#claimEveryMs
          continue
        }
        claimTurn = true
        const free = this.options.concurrency - this.#inFlight.size
        const block = Math.max(1, Math.min(this.options.blockMs, nextClaimAt - Date.now()))
        const entries = await this.#read(Math.min(this.options.batch, free), block)
        this.#stats.read += entries.length
        for (const entry of entries) this.#start(entry, 1)
        // Synchronous handlers have finished: acknowledge them now rather than on the next loop turn.
        if (this.#acks.length > 0) void this.#flushAcks()
        backoff = D.READ_BACKOFF_MS
      } catch (err) {
        if (this.#stopping) break
        const error = toCacheError(err, 'XREADGROUP')
        if (error.code === 'E_CLOSED' && this.#ctx.conn.closed) {
          // The Connection was closed under the consumer: nothing more can be read.
          this.#emitError(error)
          this.#stopping = true
          break
        }
        if (/NOGROUP/.test(error.message)) this.#groupReady = false
        if ((error.code === 'E_TIMEOUT' || error.code === 'E_CLOSED') && this.#reader) {
          // A blocked read got no answer (server paused or gone), or the reading connection gave up:
          // start over on a fresh connection.
          const stale = this.#reader
          this.#reader = undefined
          void stale.close(true)
        }
        this.#emitError(error)
        await this.#sleep(backoff)
        backoff = Math.min(backoff * 2, D.MAX_READ_BACKOFF_MS)
      }
    }
    this.#readyResolve()
  }

  async #read(count: number, blockMs: number): Promise<RawEntry[]> {
    const reader = this.#reader!
    if (reader.clientId === undefined) await reader.ensureClientId()
    const { conn, key } = this.#ctx
    const timeout = conn.config.commandTimeoutMs > 0 ? blockMs + conn.config.commandTimeoutMs : 0
    const args = ['XREADGROUP', 'GROUP', this.group, this.name, 'COUNT', String(count)]
    args.push('BLOCK', String(blockMs), 'STREAMS', key, '>')
    const reading = reader.send<unknown>(args, timeout, 'XREADGROUP')
    this.#reading = reading
    try {
      return parseReadReply(await reading)
    } finally {
      this.#reading = undefined
    }
  }

  /** Reclaims idle entries into free slots. True when the PEL has more to scan. */
  async #claim(): Promise<boolean> {
    const { key, deadKey, deadLetterMaxLen, claimScript } = this.#ctx
    const free = this.options.concurrency - this.#inFlight.size
    const reply = parseClaimReply(
      await claimScript(
        [key, deadKey],
        [
          this.group,
          this.name,
          this.options.claimIdleMs,
          this.#cursor,
          free,
          this.options.maxDeliveries,
          deadLetterMaxLen,
          Date.now(),
        ],
      ),
    )
    this.#cursor = reply.cursor
    if (reply.dead > 0) {
      this.#stats.deadLettered += reply.dead
      this.#deadLettered(undefined, 'max-deliveries', this.options.maxDeliveries)
    }
    for (const entry of reply.entries) {
      // A slow handler of ours can be reclaimed by ourselves: it is still running, do not start it twice.
      if (this.#inFlight.has(entry.id)) continue
      this.#stats.claimed++
      this.#start(entry, entry.deliveries)
    }
    return reply.cursor !== '0-0'
  }

  #start(entry: RawEntry, deliveries: number): void {
    this.#inFlight.add(entry.id)
    // Synchronous handlers settle without a promise or closure per event (the common case of cheap handlers).
    const pending = this.#process(entry, deliveries)
    if (!pending) {
      this.#settled(entry.id)
      return
    }
    const done = () => this.#settled(entry.id)
    void pending.then(done, done)
  }

  #settled(id: string): void {
    this.#inFlight.delete(id)
    const waiter = this.#slotWaiter
    this.#slotWaiter = undefined
    waiter?.()
    if (this.#inFlight.size === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve()
  }

  #process(entry: RawEntry, deliveries: number): Promise<void> | undefined {
    const { name } = this.#ctx
    const value = decodeEntry(name, entry, this.#ctx.schema)
    if (value instanceof InvalidPayloadError) {
      this.#stats.invalid++
      if (invalidChannel.hasSubscribers) {
        invalidChannel.publish({ kind: 'stream', target: name, id: entry.id, issues: value.issues })
      }
      if (this.listenerCount('invalid') > 0) this.emit('invalid', { id: entry.id, error: value })
      return this.#deadLetter(entry, 'invalid', deliveries, value.message)
    }
    let result: void | Promise<void>
    try {
      result = this.#handler(value as T, {
        id: entry.id,
        deliveries,
        stream: name,
        group: this.group,
        consumer: this.name,
      })
    } catch (err) {
      return this.#failed(entry, deliveries, err)
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      return (result as Promise<void>).then(
        () => this.#succeeded(entry.id),
        (err: unknown) => this.#failed(entry, deliveries, err),
      )
    }
    this.#succeeded(entry.id)
    return undefined
  }

  #succeeded(id: string): void {
    this.#stats.processed++
    this.#queueAck(id)
  }

  #failed(entry: RawEntry, deliveries: number, err: unknown): Promise<void> | undefined {
    this.#stats.failed++
    if (this.listenerCount('failed') > 0) this.emit('failed', { id: entry.id, error: err, deliveries })
    // Not acknowledged: it stays pending and is reclaimed after claimIdleMs, until maxDeliveries.
    if (deliveries < this.options.maxDeliveries) return undefined
    const message = err instanceof Error ? err.message : String(err)
    return this.#deadLetter(entry, 'failed', deliveries, message.slice(0, D.MAX_DEAD_LETTER_ERROR_LENGTH))
  }

  async #deadLetter(entry: RawEntry, reason: string, deliveries: number, error: string): Promise<void> {
    const { key, deadKey, deadLetterMaxLen, deadLetterScript } = this.#ctx
    try {
      const moved = await deadLetterScript(
        [key, deadKey],
        [
          this.group,
          entry.id,
          reason,
          deliveries,
          error.slice(0, D.MAX_DEAD_LETTER_ERROR_LENGTH),
          deadLetterMaxLen,
          Date.now(),
          ...entry.fields,
        ],
      )
      if (Number(moved) === 1) {
        this.#stats.deadLettered++
        this.#deadLettered(entry.id, reason, deliveries)
      }
    } catch (err) {
      // Still pending: a later XAUTOCLAIM retries it.
      this.#emitError(toCacheError(err, 'dead-letter'))
    }
  }

  #deadLettered(id: string | undefined, reason: string, deliveries: number): void {
    const event = { stream: this.#ctx.name, group: this.group, id, reason, deliveries }
    if (deadLetterChannel.hasSubscribers) deadLetterChannel.publish(event)
    if (this.listenerCount('dead-letter') > 0) this.emit('dead-letter', event)
  }

  #queueAck(id: string): void {
    this.#acks.push(id)
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    setImmediate(() => void this.#flushAcks())
  }

  #flushAcks(): Promise<void> {
    this.#ackScheduled = false
    if (this.#acks.length === 0) return Promise.resolve()
    const ids = this.#acks
    this.#acks = []
    const { conn, key } = this.#ctx
    const flush = conn.send<number>(['XACK', key, this.group, ...ids], { key }).then(
      (n) => {
        this.#stats.acked += Number(n)
        if (this.listenerCount('ack') > 0) this.emit('ack', { ids, acked: Number(n) })
      },
      // Unacknowledged entries stay pending and are redelivered after claimIdleMs (at-least-once).
      (err: unknown) => this.#emitError(toCacheError(err, 'XACK')),
    )
    this.#ackFlushes.add(flush)
    void flush.finally(() => this.#ackFlushes.delete(flush))
    return flush
  }

  #waitForSlot(): Promise<void> {
    if (this.#stopping || this.#inFlight.size < this.options.concurrency) return Promise.resolve()
    return new Promise((resolve) => {
      this.#slotWaiter = resolve
    })
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        self.#wake = undefined
        resolve()
      }
      this.#wake = done
    })
  }

  #emitError(error: CacheError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  /** Wakes a blocked XREADGROUP with CLIENT UNBLOCK (sent on the shared connection to the same node). */
  async #interruptRead(): Promise<void> {
    const { conn, key } = this.#ctx
    for (let attempt = 0; this.#reading && attempt < 100; attempt++) {
      const reading = this.#reading
      const id = this.#reader?.clientId
      if (id) {
        try {
          await conn.send(['CLIENT', 'UNBLOCK', id], { key })
        } catch {}
      }
      await Promise.race([reading.catch(() => {}), new Promise((r) => setTimeout(r, 50))])
    }
  }

  /**
   * Stops reading, lets in-flight handlers finish, flushes their acknowledgements and closes the reading
   * connection (the Connection itself stays open). With `timeout`, stops waiting for handlers after that
   * long: their entries stay pending and are redelivered after `claimIdleMs` (at-least-once). Idempotent.
   */
  close({ timeout }: { timeout?: Duration } = {}): Promise<void> {
    const timeoutMs =
      timeout === undefined ? undefined : parseDuration(timeout, { field: 'timeout', pkg: PKG })
    this.#closing ??= (async () => {
      this.#stopping = true
      const waiter = this.#slotWaiter
      this.#slotWaiter = undefined
      waiter?.()
      this.#wake?.()
      await this.#interruptRead()
      await this.#loop
      if (this.#inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
          ...(timeoutMs === undefined ? [] : [new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]),
        ])
        clearTimeout(timer)
      }
      await this.#flushAcks()
      await Promise.all([...this.#ackFlushes])
      await this.#reader?.close()
      this.#reader = undefined
      this.emit('close')
    })()
    return this.#closing
  }

  /** `await using consumer = stream.consume(…)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
