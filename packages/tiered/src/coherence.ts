import {
  CacheError,
  type Connection,
  hashSlot,
  type RedisCluster,
  type RedisSentinel,
  type Subscriber,
} from '@cache/client'
import { PubSub, type Subscription } from '@cache/events'
import { createClient, ErrorReply, type RedisClientOptions } from '@redis/client'
import { BUS_CHANNEL, COHERENCE_RETRY_MAX_MS, COHERENCE_RETRY_MIN_MS, PKG } from './defaults.js'

/** What a coherence strategy tells the cache. @internal */
export interface CoherenceHandlers {
  /** These escaped key parts changed somewhere: drop them from L1. */
  invalidate(parts: readonly string[]): void
  /** Everything may have changed (FLUSHALL, a clear, lost tracking state): drop all of L1. */
  flush(): void
  /** Every key matching this glob may have changed (deletePattern elsewhere): drop those from L1. */
  pattern(glob: string): void
  /** L1 may (true) or may not (false: invalidations may have been missed) be trusted. */
  trust(trusted: boolean): void
  /** A non-fatal problem (connection lost, server without CLIENT TRACKING). */
  problem(err: unknown): void
}

/** A way of keeping every process's L1 coherent. @internal */
export interface Coherence {
  readonly mode: 'tracking' | 'bus' | 'none'
  start(): Promise<void>
  /** After a local write: tell the other processes (only the bus has to; tracking and none do not). */
  publish?(change: Change): Promise<void>
  /**
   * The connection whose writes of `valueKey` this process is not told about (tracking's NOLOOP tracker
   * of the key's master), or undefined (no such connection now, or another mode).
   */
  writer?(valueKey: string): Tracker | undefined
  /**
   * A command on a `writer()` connection failed or timed out: it may still run later, after writes made
   * elsewhere, so the pairs are rebuilt and L1 distrusted (revalidated) as after any lost connection.
   */
  writerFailed?(tracker: Tracker, err: unknown): void
  close(): Promise<void>
}

/** A raw tracker connection (the writer of `Coherence.writer`). @internal */
export type Tracker = ReturnType<typeof createClient>

/** What changed: escaped key parts, every key matching a glob, or everything. @internal */
export type Change = readonly string[] | { readonly pattern: string } | 'all'

/** No coherence: L1 entries live for `l1.ttl` at most. @internal */
export class NoCoherence implements Coherence {
  readonly mode = 'none' as const
  constructor(private readonly handlers: CoherenceHandlers) {}
  async start(): Promise<void> {
    this.handlers.trust(true)
  }
  async close(): Promise<void> {}
}

interface Pair {
  /** `host:port` of the master. */
  address: string
  sub: ReturnType<typeof createClient>
  tracker: Tracker
}

/**
 * Server-assisted client-side caching: per master, a subscriber on `__redis__:invalidate` and a tracker
 * connection running `CLIENT TRACKING ON REDIRECT <subscriber> BCAST PREFIX <value prefix> NOLOOP`, so every
 * write to a value key by any client reaches this process — except the writes this process makes on the
 * tracker itself (`writer()`), which it keeps in L1. NOLOOP is race-free where counting echoes was not: per
 * key and event-loop cycle the server remembers the LAST client that wrote it, and skips the message only
 * for that client, so our write followed by another client's in the same cycle still evicts ours. The pair has no automatic reconnect: when any
 * connection of it drops, L1 is distrusted at once (the server forgot our tracking state, invalidations
 * were missed) and the pairs are rebuilt with backoff; L1 is trusted again only once every master
 * tracks us again. @internal
 */
export class TrackingCoherence implements Coherence {
  readonly mode = 'tracking' as const
  #pairs: Pair[] = []
  #closed = false
  #retryMs = COHERENCE_RETRY_MIN_MS
  #timer: NodeJS.Timeout | undefined
  #building = false

  constructor(
    private readonly conn: Connection,
    /** Value keys start with it, e.g. `app:cache:v:{`. */
    private readonly prefix: string,
    private readonly handlers: CoherenceHandlers,
  ) {}

  async start(): Promise<void> {
    await this.#build()
  }

  #addresses(): Array<{ host: string; port: number }> {
    if (this.conn.topology === 'cluster') {
      return (this.conn.unguarded as RedisCluster).masters.map((m) => ({ host: m.host, port: m.port }))
    }
    if (this.conn.topology === 'sentinel') {
      const node = (this.conn.unguarded as RedisSentinel).getMasterNode()
      if (!node) throw new Error('no master known to Sentinel yet')
      return [{ host: node.host, port: node.port }]
    }
    return [{ host: this.conn.config.host, port: this.conn.config.port }]
  }

  #clientOptions(address: { host: string; port: number }): RedisClientOptions {
    const c = this.conn.config
    const socket: Record<string, unknown> = {
      host: address.host,
      port: address.port,
      connectTimeout: c.connectTimeoutMs,
      reconnectStrategy: false,
    }
    if (c.tls) Object.assign(socket, { tls: true }, c.tls)
    const options: RedisClientOptions = { socket: socket as RedisClientOptions['socket'], RESP: 2 }
    if (c.username) options.username = c.username
    if (c.password) options.password = c.password
    return options
  }

  async #build(): Promise<void> {
    if (this.#closed) return
    this.#building = true
    const pairs: Pair[] = []
    try {
      for (const address of this.#addresses()) pairs.push(await this.#pair(address, pairs))
      if (this.#closed) throw new Error('closed')
      this.#pairs = pairs
      this.#building = false
      this.#retryMs = COHERENCE_RETRY_MIN_MS
      this.handlers.trust(true)
    } catch (err) {
      this.#building = false
      for (const p of pairs) destroy(p)
      if (this.#closed) return
      if (err instanceof ErrorReply) {
        // The server (or a proxy, or an ACL) refuses CLIENT TRACKING: retrying will not help.
        const unsupported = new CacheError(
          'E_UNSUPPORTED',
          `[${PKG}] coherence "tracking": the server refused CLIENT TRACKING (${err.message.split(' ')[0]}); use coherence "bus"`,
          { cause: err },
        )
        this.handlers.problem(unsupported)
        throw unsupported
      }
      this.handlers.problem(err)
      this.#schedule()
      throw err
    }
  }

  async #pair(address: { host: string; port: number }, building: Pair[]): Promise<Pair> {
    const options = this.#clientOptions(address)
    const pair: Pair = {
      address: `${address.host}:${address.port}`,
      sub: createClient(options),
      tracker: createClient(options),
    }
    const lost = (err?: unknown) => {
      if (this.#pairs.includes(pair)) this.#lost(err)
      else if (building.includes(pair)) destroy(pair)
    }
    for (const c of [pair.sub, pair.tracker]) {
      c.on('error', lost)
      c.on('end', () => lost())
    }
    try {
      await pair.sub.connect()
      const id = await pair.sub.sendCommand<number>(['CLIENT', 'ID'])
      await pair.sub.subscribe('__redis__:invalidate', (keys: unknown) => this.#message(keys))
      await pair.tracker.connect()
      await pair.tracker.sendCommand([
        'CLIENT',
        'TRACKING',
        'ON',
        'REDIRECT',
        String(id),
        'BCAST',
        'PREFIX',
        this.prefix,
        'NOLOOP',
      ])
    } catch (err) {
      destroy(pair)
      throw err
    }
    return pair
  }

  #message(keys: unknown): void {
    if (!Array.isArray(keys)) {
      // null: FLUSHALL/FLUSHDB, or the server dropped our tracking state.
      this.handlers.flush()
      return
    }
    const parts: string[] = []
    for (const k of keys as string[]) {
      if (k.startsWith(this.prefix) && k.endsWith('}')) parts.push(k.slice(this.prefix.length, -1))
    }
    if (parts.length > 0) this.handlers.invalidate(parts)
  }

  #lost(err: unknown): void {
    if (this.#closed) return
    const pairs = this.#pairs
    this.#pairs = []
    for (const p of pairs) destroy(p)
    this.handlers.trust(false)
    if (err) this.handlers.problem(err)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#closed || this.#timer || this.#building) return
    const delay = this.#retryMs * (0.75 + Math.random() / 2)
    this.#retryMs = Math.min(COHERENCE_RETRY_MAX_MS, this.#retryMs * 2)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#build().catch(() => {})
    }, delay)
    this.#timer.unref()
  }

  writer(valueKey: string): Tracker | undefined {
    const pairs = this.#pairs
    if (pairs.length === 0) return undefined
    if (this.conn.topology !== 'cluster') return pairs[0]?.tracker
    // The pair of the master that serves the key's slot now (a moved slot answers MOVED: the caller falls back).
    const master = (this.conn.unguarded as RedisCluster).slots[hashSlot(valueKey)]?.master
    if (!master) return undefined
    const address = `${master.host}:${master.port}`
    return pairs.find((p) => p.address === address)?.tracker
  }

  writerFailed(tracker: Tracker, err: unknown): void {
    if (this.#pairs.some((p) => p.tracker === tracker)) this.#lost(err)
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    const pairs = this.#pairs
    this.#pairs = []
    await Promise.all(
      pairs.flatMap((p) => [p.sub, p.tracker]).map((c) => (c.isOpen ? c.close().catch(() => {}) : undefined)),
    )
  }
}

function destroy(pair: Pair): void {
  for (const c of [pair.sub, pair.tracker]) {
    try {
      if (c.isOpen) c.destroy()
    } catch {}
  }
}

interface BusMessage {
  k?: string[]
  p?: string
  f?: 1
}

/** Most key parts in one bus message (a large tag invalidation is sent in several). */
const BUS_BATCH = 1000

/**
 * Invalidations over @cache/events pub/sub, for servers or proxies without CLIENT TRACKING: every write
 * through a TieredCache publishes the changed keys; other processes drop them (a process skips its own
 * messages). Writes made outside the library are not seen. While the subscriber is reconnecting L1 is
 * distrusted; once resubscribed it is trusted again (older entries are revalidated on their next read).
 * @internal
 */
export class BusCoherence implements Coherence {
  readonly mode = 'bus' as const
  readonly #bus: PubSub
  readonly #channel: string
  #subscription: Subscription | undefined
  #subscriber: Subscriber | undefined
  readonly #onReconnecting = () => this.handlers.trust(false)
  readonly #onResubscribed = () => this.handlers.trust(true)
  readonly #onError = (err: unknown) => this.handlers.problem(err)

  constructor(
    private readonly conn: Connection,
    namespace: string,
    private readonly handlers: CoherenceHandlers,
  ) {
    this.#bus = new PubSub(conn)
    this.#channel = `${BUS_CHANNEL}:${namespace}`
  }

  async start(): Promise<void> {
    const sub = await this.conn.subscriber()
    this.#subscriber = sub
    sub.on('reconnecting', this.#onReconnecting)
    sub.on('error', this.#onError)
    sub.on('resubscribed', this.#onResubscribed)
    this.#bus.on('error', this.#onError)
    this.#subscription = await this.#bus.subscribe(this.#channel, (message, meta) => {
      if (meta.source === this.#bus.id) return
      const m = message as BusMessage
      if (m.f) this.handlers.flush()
      else if (typeof m.p === 'string') this.handlers.pattern(m.p)
      else if (Array.isArray(m.k)) this.handlers.invalidate(m.k)
    })
    this.handlers.trust(true)
  }

  async publish(change: Change): Promise<void> {
    if (change === 'all') return void (await this.#bus.publish(this.#channel, { f: 1 } satisfies BusMessage))
    if ('pattern' in change) {
      return void (await this.#bus.publish(this.#channel, { p: change.pattern } satisfies BusMessage))
    }
    const parts = change as readonly string[]
    for (let i = 0; i < parts.length; i += BUS_BATCH) {
      await this.#bus.publish(this.#channel, { k: parts.slice(i, i + BUS_BATCH) } satisfies BusMessage)
    }
  }

  async close(): Promise<void> {
    const sub = this.#subscriber
    if (sub) {
      sub.off('reconnecting', this.#onReconnecting)
      sub.off('resubscribed', this.#onResubscribed)
      sub.off('error', this.#onError)
    }
    await this.#subscription?.unsubscribe().catch(() => {})
    await this.#bus.close().catch(() => {})
  }
}
