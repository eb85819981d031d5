import { ClosedError, type Connection, InvalidArgumentError, parseOptions } from '@cache/client'
import { z } from 'zod'
import { Presence, type PresenceOptions, type PresenceRecord } from './presence.js'
import { PubSub, type Subscription } from './pubsub.js'

const PKG = '@cache/events'

/** Delivers a room message to one local connection (e.g. `ws.send`). */
export type DeliverFn = (message: unknown, room: string) => void

/** Options of `new RoomHub()`. */
export interface RoomHubOptions extends PresenceOptions {
  /** Channel prefix of room broadcasts (all nodes of one deployment must agree). @default `${namespace}:room:` */
  channelPrefix?: string
}

const optionsSchema = z.object({ channelPrefix: z.string().optional() }).passthrough()

const ROOM_CHANNEL = 'r'

interface RoomMessage {
  room: string
  data: unknown
  except?: string
}

const roomMessage = z.object({ room: z.string(), data: z.unknown(), except: z.string().optional() })

/**
 * Real-time fan-out across nodes: each node registers its connections in a Presence registry and joins them
 * to rooms; `broadcast(room, message)` publishes once on pub/sub and every node delivers to its local
 * members of the room. Delivery is at-most-once (pub/sub): clients re-sync state on reconnect.
 * @example
 * const hub = new RoomHub(conn, { node: 'ws-1' })
 * await hub.connect('c1', (msg) => socket.send(JSON.stringify(msg)))
 * await hub.join('c1', 'lobby')
 * await hub.broadcast('lobby', { text: 'hi' })
 */
export class RoomHub {
  /** The presence registry (who is connected where, which rooms). */
  readonly presence: Presence
  /** The pub/sub bus carrying room broadcasts. */
  readonly bus: PubSub<{ r: typeof roomMessage }>
  readonly #deliver = new Map<string, DeliverFn>()
  readonly #rooms = new Map<string, Set<string>>()
  #subscription: Promise<Subscription> | undefined
  #closed = false

  constructor(conn: Connection, options: RoomHubOptions = {}) {
    const { channelPrefix, ...presence } = parseOptions(PKG, optionsSchema, options) as RoomHubOptions
    this.presence = new Presence(conn, presence)
    this.bus = new PubSub(conn, {
      schemas: { [ROOM_CHANNEL]: roomMessage },
      channelPrefix: channelPrefix ?? `${conn.keys.prefix}room:`,
    })
  }

  /** The node name (from the presence registry). */
  get node(): string {
    return this.presence.node
  }

  #ensureSubscribed(): Promise<Subscription> {
    // One subscription per node for every room: a broadcast reaches each node once.
    this.#subscription ??= this.bus
      .subscribe(ROOM_CHANNEL, (msg) => this.#fanOut(msg as RoomMessage))
      .catch((err: unknown) => {
        this.#subscription = undefined
        throw err
      })
    return this.#subscription
  }

  #fanOut(msg: RoomMessage): void {
    const members = this.#rooms.get(msg.room)
    if (!members) return
    for (const id of members) {
      if (id === msg.except) continue
      try {
        this.#deliver.get(id)?.(msg.data, msg.room)
      } catch {
        // A broken socket must not stop delivery to the others; its close handler disconnects it.
      }
    }
  }

  /** Registers a local connection with its delivery function. */
  async connect(
    connectionId: string,
    deliver: DeliverFn,
    info: { user?: string; meta?: Record<string, unknown> } = {},
  ): Promise<void> {
    if (this.#closed) throw new ClosedError(`[${PKG}] room hub: closed`)
    if (typeof deliver !== 'function') {
      throw new InvalidArgumentError(PKG, 'deliver', `must be a function`)
    }
    await this.presence.join(connectionId, info)
    this.#deliver.set(connectionId, deliver)
    await this.#ensureSubscribed()
  }

  /** Adds a local connection to a room. */
  async join(connectionId: string, room: string): Promise<void> {
    await this.presence.enter(connectionId, room)
    let members = this.#rooms.get(room)
    if (!members) {
      members = new Set()
      this.#rooms.set(room, members)
    }
    members.add(connectionId)
  }

  /** Removes a local connection from a room. */
  async leave(connectionId: string, room: string): Promise<void> {
    const members = this.#rooms.get(room)
    members?.delete(connectionId)
    if (members?.size === 0) this.#rooms.delete(room)
    await this.presence.exit(connectionId, room)
  }

  /** True when the local connection is in the room. */
  isIn(connectionId: string, room: string): boolean {
    return this.#rooms.get(room)?.has(connectionId) ?? false
  }

  /** Unregisters a local connection from every room and the registry. Idempotent. */
  async disconnect(connectionId: string): Promise<void> {
    this.#deliver.delete(connectionId)
    for (const [room, members] of this.#rooms) {
      members.delete(connectionId)
      if (members.size === 0) this.#rooms.delete(room)
    }
    await this.presence.leave(connectionId)
  }

  /** Sends a message to every member of a room on every node (optionally except one connection). */
  async broadcast(room: string, data: unknown, { except }: { except?: string } = {}): Promise<void> {
    if (typeof room !== 'string' || room.length === 0) {
      throw new InvalidArgumentError(PKG, 'room', `must be a non-empty string`)
    }
    const msg: RoomMessage = { room, data }
    if (except !== undefined) msg.except = except
    await this.bus.publish(ROOM_CHANNEL, msg)
  }

  /** The live members of a room, across nodes. */
  members(room: string): Promise<PresenceRecord[]> {
    return this.presence.list({ room })
  }

  /** Disconnects every local connection and unsubscribes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#deliver.clear()
    this.#rooms.clear()
    await Promise.all([this.presence.close(), this.bus.close()])
  }

  /** `await using hub = new RoomHub(conn)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
