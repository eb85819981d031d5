import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import {
  CacheError,
  ClosedError,
  type Connection,
  InvalidArgumentError,
  parseOptions,
  type SendOptions,
  type Subscriber,
  toCacheError,
  UnsupportedError,
} from '@cache/client'
import { z } from 'zod'
import { handlerErrorChannel, invalidChannel } from './diagnostics.js'
import { decodeEnvelope, encodeEnvelope, envelopeHead, validate } from './envelope.js'
import { HandlerError, InvalidPayloadError } from './errors.js'
import { channelName, patternName } from './keys.js'

const PKG = '@cache/events'

/** A zod schema per channel name (the channel as passed to `publish`, without the prefix). */
export type ChannelSchemas = Record<string, z.ZodType>

/** The payload type a handler of `C` receives: the schema's output, or `unknown` for unschematised channels. */
export type PayloadOf<S extends ChannelSchemas, C extends string> = C extends keyof S
  ? z.output<S[C]>
  : unknown
/** The payload type `publish(C, …)` accepts: the schema's input, or `unknown`. */
export type InputOf<S extends ChannelSchemas, C extends string> = C extends keyof S ? z.input<S[C]> : unknown

/** Where a message came from. */
export interface MessageMeta {
  /** The concrete channel (without the prefix). */
  channel: string
  /** The pattern that matched, for pattern subscriptions (without the prefix). */
  pattern?: string
  /** The `id` of the publishing PubSub, when it sent one (the tiered cache skips its own invalidations). */
  source?: string
}

/** Receives the messages of a subscription. A thrown error or rejection is reported, never fatal. */
export type MessageHandler<T> = (message: T, meta: MessageMeta) => void | Promise<void>

/** Options of `bus.subscribe()`. */
export interface SubscribeOptions<T> {
  /** Only messages for which this returns true reach the handler (runs after schema validation). */
  filter?: (message: T, meta: MessageMeta) => boolean
  /**
   * Treat the target as a glob pattern (PSUBSCRIBE). By default a target containing `*`, `?` or `[` is a
   * pattern; pass `false` to subscribe to such a channel literally.
   */
  pattern?: boolean
}

/** An active subscription. */
export interface Subscription {
  /** The channel or pattern, as given. */
  readonly target: string
  /** True for PSUBSCRIBE subscriptions. */
  readonly isPattern: boolean
  /** Removes this handler; the server subscription goes when its last handler does. Idempotent. */
  unsubscribe(): Promise<void>
}

/** Options of `new PubSub()`. */
export interface PubSubOptions<S extends ChannelSchemas = ChannelSchemas> {
  /** A zod schema per channel: `publish` validates before sending, subscribers before their handlers. */
  schemas?: S
  /**
   * Prepended, as given, to every channel on the server, so buses of different namespaces never hear each
   * other; set it to talk to publishers outside the family (`''` = raw channel names).
   * @default `${conn.keys.namespace}:`
   */
  channelPrefix?: string
  /** Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7+): on a Cluster a message stays on its channel's shard. Patterns are not available. @default false */
  sharded?: boolean
  /** This bus's id, sent with every message as `src`. @default `hostname:pid:random` */
  id?: string
}

/** Counters of one PubSub. */
export interface PubSubStats {
  published: number
  received: number
  delivered: number
  filtered: number
  invalid: number
  handlerErrors: number
}

const optionsSchema = z
  .object({
    schemas: z
      .record(
        z.string(),
        z.custom<z.ZodType>((s) => s instanceof z.ZodType, { message: 'must be a zod schema' }),
      )
      .optional(),
    channelPrefix: z.string().optional(),
    sharded: z.boolean().default(false),
    id: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional(),
  })
  .strict()

const subscribeSchema = z
  .object({
    filter: z
      .custom<(...a: unknown[]) => boolean>((f) => typeof f === 'function', 'must be a function')
      .optional(),
    pattern: z.boolean().optional(),
  })
  .strict()

const GLOB = /[*?[]/

type Kind = 'channel' | 'pattern' | 'sharded'

interface Entry {
  handler: MessageHandler<any>
  filter: ((message: any, meta: MessageMeta) => boolean) | undefined
}

interface Route {
  kind: Kind
  server: string
  target: string
  entries: Set<Entry>
  listener: (raw: string, channel: string) => void
  ready: Promise<void>
}

/**
 * Typed pub/sub over a Connection's shared dedicated subscriber: channels, glob patterns (PSUBSCRIBE),
 * sharded pub/sub (SSUBSCRIBE), zod-validated payloads and per-subscription filters. One server subscription
 * per channel, whatever the number of local handlers; each message is decoded and validated once.
 *
 * Delivery is at-most-once: messages published while a subscriber is disconnected are lost (node-redis
 * resubscribes after a reconnect, and the bus emits `resubscribed`). Use EventStream for at-least-once.
 *
 * Events: `invalid` ({ channel, error: InvalidPayloadError }), `error` (handler failures, as CacheError),
 * `resubscribed`.
 * @example
 * const bus = new PubSub(conn, { schemas: { invalidate: z.object({ key: z.string() }) } })
 * const sub = await bus.subscribe('invalidate', (msg) => l1.delete(msg.key))
 * await bus.publish('invalidate', { key: 'user:42' })
 */
export class PubSub<S extends ChannelSchemas = ChannelSchemas> extends EventEmitter {
  /** This bus's id, sent as `src` with every message. */
  readonly id: string
  /** The server-side channel prefix. */
  readonly channelPrefix: string
  /** True when the bus uses sharded pub/sub. */
  readonly sharded: boolean
  readonly #conn: Connection
  readonly #schemas: Readonly<Record<string, z.ZodType>>
  readonly #routes = new Map<string, Route>()
  readonly #stats: PubSubStats = {
    published: 0,
    received: 0,
    delivered: 0,
    filtered: 0,
    invalid: 0,
    handlerErrors: 0,
  }
  /** The envelope's text before the payload (it carries this bus's id): built once. */
  readonly #head: string
  readonly #command: 'PUBLISH' | 'SPUBLISH'
  /**
   * The last channel published to, its server name and send options: a bus mostly publishes to one
   * channel, which then costs no concatenation and no options object per message (one entry: bounded).
   */
  #target: { channel: string; server: string; options: SendOptions } | undefined
  #subscriber: Promise<Subscriber> | undefined
  #onResubscribed: (() => void) | undefined
  #closed = false

  constructor(conn: Connection, options: PubSubOptions<S> = {}) {
    super()
    const o = parseOptions(PKG, optionsSchema, options)
    this.#conn = conn
    this.#schemas = Object.freeze({ ...(o.schemas ?? {}) })
    this.channelPrefix = o.channelPrefix ?? conn.keys.prefix
    this.sharded = o.sharded
    this.id = o.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.#head = envelopeHead(this.id)
    this.#command = this.sharded ? 'SPUBLISH' : 'PUBLISH'
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<PubSubStats> {
    return { ...this.#stats }
  }

  /**
   * Validates `message` against the channel's schema, wraps it in the envelope and publishes it.
   * Resolves with the number of subscribers that received it (on a Cluster: those on the receiving node).
   * @throws InvalidPayloadError (E_INVALID_PAYLOAD) when the message fails the schema; nothing is sent.
   */
  async publish<C extends string>(channel: C, message: InputOf<S, C>): Promise<number> {
    if (this.#closed) throw new ClosedError(`[${PKG}] publish: the bus is closed`)
    if (typeof channel !== 'string' || channel.length === 0) {
      throw new InvalidArgumentError(PKG, 'channel', `must be a non-empty string`)
    }
    const schema = this.#schemas[channel]
    if (schema) {
      const checked = validate(schema, channel, message)
      if (!checked.ok) throw checked.error
    }
    const raw = encodeEnvelope(channel, message, this.id, this.#head)
    let target = this.#target
    if (target === undefined || target.channel !== channel) {
      const server = channelName(this.channelPrefix, channel)
      target = { channel, server, options: { key: server, name: this.#command } }
      this.#target = target
    }
    const receivers = await this.#conn.send<number>([this.#command, target.server, raw], target.options)
    this.#stats.published++
    return Number(receivers)
  }

  /**
   * Subscribes a handler to a channel or a glob pattern. Resolves once the server has confirmed the
   * subscription, so a message published after it resolves is received.
   * @throws UnsupportedError (E_UNSUPPORTED) for a pattern on a sharded bus; InvalidOptionError for bad options.
   */
  async subscribe<C extends string>(
    channelOrPattern: C,
    handler: MessageHandler<PayloadOf<S, C>>,
    options: SubscribeOptions<PayloadOf<S, C>> = {},
  ): Promise<Subscription> {
    if (this.#closed) throw new ClosedError(`[${PKG}] subscribe: the bus is closed`)
    if (typeof channelOrPattern !== 'string' || channelOrPattern.length === 0) {
      throw new InvalidArgumentError(PKG, 'channel', `must be a non-empty string`)
    }
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(PKG, 'handler', `must be a function`)
    }
    const o = parseOptions(PKG, subscribeSchema, options)
    const isPattern = o.pattern ?? GLOB.test(channelOrPattern)
    if (isPattern && this.sharded) {
      throw new UnsupportedError(
        `[${PKG}] subscribe("${channelOrPattern}"): sharded pub/sub has no patterns; use a non-sharded bus`,
      )
    }
    const kind: Kind = isPattern ? 'pattern' : this.sharded ? 'sharded' : 'channel'
    const sub = await this.#getSubscriber()
    const server = isPattern
      ? patternName(this.channelPrefix, channelOrPattern)
      : channelName(this.channelPrefix, channelOrPattern)
    const routeKey = `${kind}\0${server}`
    let route = this.#routes.get(routeKey)
    if (!route) {
      const created: Route = {
        kind,
        server,
        target: channelOrPattern,
        entries: new Set(),
        listener: (raw, channel) => this.#dispatch(created, raw, channel),
        ready: Promise.resolve(),
      }
      created.ready =
        kind === 'pattern'
          ? sub.pSubscribe(server, created.listener)
          : kind === 'sharded'
            ? sub.sSubscribe(server, created.listener)
            : sub.subscribe(server, created.listener)
      created.ready.catch(() => {
        if (this.#routes.get(routeKey) === created) this.#routes.delete(routeKey)
      })
      this.#routes.set(routeKey, created)
      route = created
    }
    const entry: Entry = { handler, filter: o.filter }
    route.entries.add(entry)
    const current = route
    try {
      await current.ready
    } catch (err) {
      current.entries.delete(entry)
      throw toCacheError(
        err,
        kind === 'pattern' ? 'PSUBSCRIBE' : kind === 'sharded' ? 'SSUBSCRIBE' : 'SUBSCRIBE',
      )
    }
    let active = true
    return {
      target: channelOrPattern,
      isPattern,
      unsubscribe: async () => {
        if (!active) return
        active = false
        await this.#remove(routeKey, current, entry)
      },
    }
  }

  async #remove(routeKey: string, route: Route, entry: Entry): Promise<void> {
    route.entries.delete(entry)
    if (route.entries.size > 0 || this.#routes.get(routeKey) !== route) return
    this.#routes.delete(routeKey)
    const sub = await this.#getSubscriber()
    try {
      // node-redis keeps the server subscription while another listener (a newer route) is registered.
      if (route.kind === 'pattern') await sub.pUnsubscribe(route.server, route.listener)
      else if (route.kind === 'sharded') await sub.sUnsubscribe(route.server, route.listener)
      else await sub.unsubscribe(route.server, route.listener)
    } catch (err) {
      throw toCacheError(err, 'UNSUBSCRIBE')
    }
  }

  #getSubscriber(): Promise<Subscriber> {
    this.#subscriber ??= this.#conn.subscriber().then(
      (sub) => {
        this.#onResubscribed = () => this.emit('resubscribed')
        sub.on('resubscribed', this.#onResubscribed)
        return sub
      },
      (err: unknown) => {
        this.#subscriber = undefined
        throw err
      },
    )
    return this.#subscriber
  }

  #dispatch(route: Route, raw: string, serverChannel: string): void {
    this.#stats.received++
    // A channel route only hears its own server channel (prefix + target): no slice per message.
    const channel =
      route.kind !== 'pattern'
        ? route.target
        : serverChannel.startsWith(this.channelPrefix)
          ? serverChannel.slice(this.channelPrefix.length)
          : serverChannel
    const envelope = decodeEnvelope(raw)
    if (typeof envelope === 'string') {
      this.#invalid(channel, new InvalidPayloadError(channel, [envelope]))
      return
    }
    let value = envelope.data
    const schema = this.#schemas[channel]
    if (schema) {
      const checked = validate(schema, channel, value)
      if (!checked.ok) {
        this.#invalid(channel, checked.error)
        return
      }
      value = checked.value
    }
    const meta: MessageMeta = { channel }
    if (route.kind === 'pattern') meta.pattern = route.target
    if (envelope.src !== undefined) meta.source = envelope.src
    for (const entry of route.entries) {
      try {
        if (entry.filter && !entry.filter(value, meta)) {
          this.#stats.filtered++
          continue
        }
        this.#stats.delivered++
        const result = entry.handler(value, meta)
        if (result && typeof (result as Promise<void>).then === 'function') {
          ;(result as Promise<void>).then(undefined, (err: unknown) => this.#handlerError(channel, err))
        }
      } catch (err) {
        this.#handlerError(channel, err)
      }
    }
  }

  #invalid(channel: string, error: InvalidPayloadError): void {
    this.#stats.invalid++
    if (invalidChannel.hasSubscribers) {
      invalidChannel.publish({ kind: 'pubsub', target: channel, issues: error.issues })
    }
    if (this.listenerCount('invalid') > 0) this.emit('invalid', { channel, error })
  }

  #handlerError(channel: string, err: unknown): void {
    this.#stats.handlerErrors++
    const error = err instanceof CacheError ? err : new HandlerError(channel, err)
    if (handlerErrorChannel.hasSubscribers)
      handlerErrorChannel.publish({ kind: 'pubsub', target: channel, error })
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  /** Unsubscribes every handler of this bus (the Connection and its shared subscriber stay open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const routes = [...this.#routes.entries()]
    this.#routes.clear()
    if (!this.#subscriber) return
    const sub = await this.#subscriber.catch(() => undefined)
    if (!sub) return
    if (this.#onResubscribed) sub.off('resubscribed', this.#onResubscribed)
    await Promise.all(
      routes.map(async ([, route]) => {
        route.entries.clear()
        try {
          if (route.kind === 'pattern') await sub.pUnsubscribe(route.server, route.listener)
          else if (route.kind === 'sharded') await sub.sUnsubscribe(route.server, route.listener)
          else await sub.unsubscribe(route.server, route.listener)
        } catch {}
      }),
    )
  }

  /** `await using bus = new PubSub(conn)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
