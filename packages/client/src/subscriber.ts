import { EventEmitter } from 'node:events'
import { CacheError } from './errors.js'
import { TAG } from './pkg.js'
import type { AnyRedis, RedisStandalone, Topology } from './types.js'

/** A message listener: the payload and the channel it came on. */
export type MessageListener = (message: string, channel: string) => void

type PubSubClient = Pick<
  RedisStandalone,
  | 'subscribe'
  | 'unsubscribe'
  | 'pSubscribe'
  | 'pUnsubscribe'
  | 'sSubscribe'
  | 'sUnsubscribe'
  | 'close'
  | 'destroy'
  | 'isOpen'
>

/**
 * The dedicated pub/sub connection of a Connection. node-redis re-sends every SUBSCRIBE, PSUBSCRIBE and
 * SSUBSCRIBE after a reconnect; this wrapper reports it with a `resubscribed` event, and forwards `error`
 * only when someone listens (an unobserved pub/sub error must not crash the process).
 *
 * Messages published while the connection is down are lost: that is pub/sub's contract. Use Streams
 * (@cache/events EventStream) for at-least-once delivery.
 */
export class Subscriber extends EventEmitter {
  readonly #client: PubSubClient
  readonly topology: Topology
  #closed = false

  /** @internal created by `conn.subscriber()`. */
  constructor(client: AnyRedis, topology: Topology) {
    super()
    this.#client = client as unknown as PubSubClient
    this.topology = topology
    const emitter = client as unknown as EventEmitter
    let connectedOnce = false
    const onReady = () => {
      if (connectedOnce) this.emit('resubscribed')
      connectedOnce = true
      this.emit('ready')
    }
    emitter.on('ready', onReady)
    emitter.on('node-ready', onReady)
    emitter.on('topology-change', () => this.emit('topology-change'))
    emitter.on('error', (err: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', err)
    })
    emitter.on('reconnecting', () => this.emit('reconnecting'))
    if (topology === 'cluster') {
      // node-redis moves the pub/sub connection off a dead node only when it rediscovers the cluster, which a
      // subscriber (no MOVED replies) never triggers: ask for it, at most every 250 ms, while a node fails.
      let last = 0
      emitter.on('node-reconnecting', () => {
        const now = Date.now()
        if (now - last < 250 || this.#closed) return
        last = now
        const internal = client as unknown as {
          masters?: Array<{ host: string; port: number }>
          _self?: { _slots?: { rediscover?(start: unknown): Promise<void> } }
          _slots?: { rediscover?(start: unknown): Promise<void> }
        }
        const slots = internal._self?._slots ?? internal._slots
        const seeds = internal.masters ?? []
        const seed = seeds[Math.floor(Math.random() * seeds.length)]
        if (!slots?.rediscover || !seed) return
        slots.rediscover({ options: { socket: { host: seed.host, port: seed.port } } }).catch(() => {})
      })
    }
  }

  /** The node-redis object behind it, for advanced use (buffers, RESP3 push messages). */
  get client(): AnyRedis {
    return this.#client as unknown as AnyRedis
  }

  #check(): void {
    if (this.#closed) throw new CacheError('E_CLOSED', `${TAG} subscriber: closed`)
  }

  /** SUBSCRIBE to one or more channels. */
  async subscribe(channels: string | string[], listener: MessageListener): Promise<void> {
    this.#check()
    await this.#client.subscribe(channels, listener)
  }

  /** UNSUBSCRIBE a listener (or every listener) from channels. */
  async unsubscribe(channels: string | string[], listener?: MessageListener): Promise<void> {
    if (this.#closed) return
    await this.#client.unsubscribe(channels, listener)
  }

  /** PSUBSCRIBE to glob patterns; the listener gets the concrete channel. */
  async pSubscribe(patterns: string | string[], listener: MessageListener): Promise<void> {
    this.#check()
    await this.#client.pSubscribe(patterns, listener)
  }

  /** PUNSUBSCRIBE. */
  async pUnsubscribe(patterns: string | string[], listener?: MessageListener): Promise<void> {
    if (this.#closed) return
    await this.#client.pUnsubscribe(patterns, listener)
  }

  /** SSUBSCRIBE (sharded pub/sub, Redis 7+): on a cluster the message stays on the channel's shard. */
  async sSubscribe(channels: string | string[], listener: MessageListener): Promise<void> {
    this.#check()
    await this.#client.sSubscribe(channels, listener)
  }

  /** SUNSUBSCRIBE. */
  async sUnsubscribe(channels: string | string[], listener?: MessageListener): Promise<void> {
    if (this.#closed) return
    await this.#client.sUnsubscribe(channels, listener)
  }

  /** Closes the pub/sub connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      if (this.#client.isOpen !== false) await this.#client.close()
    } catch {
      try {
        await this.#client.destroy()
      } catch {}
    }
  }
}
