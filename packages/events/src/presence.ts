import { hostname } from 'node:os'
import {
  type Arg,
  ClosedError,
  type Connection,
  type Duration,
  InvalidArgumentError,
  parseOptions,
  type ScriptFn,
  zDuration,
} from '@cache/client'
import { z } from 'zod'
import * as D from './defaults.js'
import { NotFoundError } from './errors.js'
import { presenceKeys } from './keys.js'
import { presenceSweep } from './scripts/index.js'

const PKG = '@cache/events'

/** Options of `new Presence()`. */
export interface PresenceOptions {
  /** This process's name in the registry. @default `hostname:pid` */
  node?: string
  /** A connection not refreshed for this long counts as gone (its node crashed). @default '30s' */
  ttl?: Duration
  /** Refresh interval of this node's connections; 0 disables the timer (call `heartbeat()` yourself). @default ttl / 3 */
  heartbeat?: Duration
  /** Separate registries in one namespace (each lives in one cluster slot). @default 'default' */
  scope?: string
  /** The clock (ms), for tests. @default Date.now */
  now?: () => number
}

/** One registered connection. */
export interface PresenceRecord {
  id: string
  node: string
  user: string | undefined
  rooms: string[]
  meta: Record<string, unknown> | undefined
  connectedAt: number
  expiresAt: number
}

interface Local {
  user: string | undefined
  meta: Record<string, unknown> | undefined
  rooms: Set<string>
  connectedAt: number
}

const optionsSchema = z
  .object({
    node: z.string().min(1, 'must be a non-empty string').optional(),
    ttl: zDuration({ min: 100, max: D.MAX_PRESENCE_TTL_MS }).default(D.DEFAULT_PRESENCE_TTL_MS),
    heartbeat: zDuration({ max: D.MAX_PRESENCE_TTL_MS }).optional(),
    scope: z.string().min(1, 'must be a non-empty string').default('default'),
    now: z.custom<() => number>((f) => typeof f === 'function', 'must be a function').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.heartbeat !== undefined && o.heartbeat >= o.ttl) {
      ctx.addIssue({ code: 'custom', path: ['heartbeat'], message: 'must be shorter than ttl' })
    }
  })

const idSchema = z.string().min(1).max(256)

/**
 * A registry of live connections in Redis (who is connected, on which node, in which rooms), kept alive by
 * TTL heartbeats: the connections of a node that dies vanish from listings after `ttl` and are swept.
 * Each node registers only its own connections.
 * @example
 * const presence = new Presence(conn, { node: 'ws-1', ttl: '30s' })
 * await presence.join('conn-1', { user: 'ada' })
 * await presence.enter('conn-1', 'lobby')
 * await presence.list({ room: 'lobby' }) // [{ id: 'conn-1', node: 'ws-1', user: 'ada', … }]
 */
export class Presence {
  /** This process's node name. */
  readonly node: string
  /** Entry lifetime without a heartbeat (ms). */
  readonly ttlMs: number
  readonly #conn: Connection
  readonly #keys: ReturnType<typeof presenceKeys>
  readonly #now: () => number
  readonly #heartbeatMs: number
  readonly #local = new Map<string, Local>()
  readonly #sweep: ScriptFn<number>
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(conn: Connection, options: PresenceOptions = {}) {
    const o = parseOptions(PKG, optionsSchema, options)
    this.#conn = conn
    this.node = o.node ?? `${hostname()}:${process.pid}`
    this.ttlMs = o.ttl
    this.#heartbeatMs = o.heartbeat ?? Math.floor(o.ttl / 3)
    this.#now = o.now ?? Date.now
    this.#keys = presenceKeys(conn.keys, o.scope)
    this.#sweep = conn.defineScript<number>('events:presence-sweep', presenceSweep, { keys: 3 })
  }

  #id(value: unknown, field = 'connectionId'): string {
    if (!idSchema.safeParse(value).success) {
      throw new InvalidArgumentError(PKG, field, 'must be a string of 1 to 256 characters')
    }
    return value as string
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`[${PKG}] presence: closed`)
  }

  #record(local: Local): string {
    return JSON.stringify({
      node: this.node,
      user: local.user,
      rooms: [...local.rooms],
      meta: local.meta,
      connectedAt: local.connectedAt,
    })
  }

  #write(id: string, local: Local): Promise<unknown> {
    const { records, expiry } = this.#keys
    const expiresAt = this.#now() + this.ttlMs
    return Promise.all([
      this.#conn.send(['ZADD', expiry, String(expiresAt), id], { key: expiry }),
      this.#conn.send(['HSET', records, id, this.#record(local)], { key: records }),
    ])
  }

  /** The connections this process registered. */
  get localConnections(): string[] {
    return [...this.#local.keys()]
  }

  /** The rooms a local connection is in. */
  roomsOf(connectionId: string): string[] {
    return [...(this.#local.get(connectionId)?.rooms ?? [])]
  }

  /** Registers a connection of this node (idempotent; updates user/meta). Starts the heartbeat timer. */
  async join(connectionId: string, { user, meta }: { user?: string; meta?: Record<string, unknown> } = {}) {
    this.#check()
    const id = this.#id(connectionId)
    const local: Local = this.#local.get(id) ?? { user, meta, rooms: new Set(), connectedAt: this.#now() }
    local.user = user
    local.meta = meta
    this.#local.set(id, local)
    this.#startTimer()
    await this.#write(id, local)
  }

  /** Adds a local connection to a room. @throws E_NOT_FOUND when the connection has not joined. */
  async enter(connectionId: string, room: string): Promise<void> {
    this.#check()
    const id = this.#id(connectionId)
    const name = this.#id(room, 'room')
    const local = this.#local.get(id)
    if (!local) {
      throw new NotFoundError('connectionId', 'connection is not registered here: join() it first')
    }
    local.rooms.add(name)
    const key = this.#keys.room(name)
    await Promise.all([
      this.#conn.send(['ZADD', key, String(this.#now() + this.ttlMs), id], { key }),
      this.#write(id, local),
    ])
  }

  /** Removes a local connection from a room. */
  async exit(connectionId: string, room: string): Promise<void> {
    const id = this.#id(connectionId)
    const name = this.#id(room, 'room')
    const local = this.#local.get(id)
    if (!local?.rooms.delete(name)) return
    const key = this.#keys.room(name)
    await Promise.all([this.#conn.send(['ZREM', key, id], { key }), this.#write(id, local)])
  }

  /** Unregisters a local connection (and removes it from its rooms). Idempotent. */
  async leave(connectionId: string): Promise<void> {
    const id = this.#id(connectionId)
    const local = this.#local.get(id)
    if (!local) return
    this.#local.delete(id)
    if (this.#local.size === 0) this.#stopTimer()
    const { records, expiry } = this.#keys
    await Promise.all([
      ...[...local.rooms].map((room) => {
        const key = this.#keys.room(room)
        return this.#conn.send(['ZREM', key, id], { key })
      }),
      this.#conn.send(['ZREM', expiry, id], { key: expiry }),
      this.#conn.send(['HDEL', records, id], { key: records }),
    ])
  }

  /** Refreshes the expiry of every local connection and its room memberships; resolves with how many. */
  async heartbeat(): Promise<number> {
    if (this.#local.size === 0) return 0
    const expiresAt = String(this.#now() + this.ttlMs)
    const { expiry } = this.#keys
    const all: Arg[] = ['ZADD', expiry]
    const byRoom = new Map<string, string[]>()
    for (const [id, local] of this.#local) {
      all.push(expiresAt, id)
      for (const room of local.rooms) byRoom.set(room, [...(byRoom.get(room) ?? []), id])
    }
    const sends: Promise<unknown>[] = [this.#conn.send(all, { key: expiry })]
    for (const [room, ids] of byRoom) {
      const key = this.#keys.room(room)
      sends.push(this.#conn.send(['ZADD', key, ...ids.flatMap((id) => [expiresAt, id])], { key }))
    }
    // A sweep on another node may have removed a record while this node was stalled: write them back.
    const { records } = this.#keys
    const present = (await this.#conn.send<Array<string | null>>(['HMGET', records, ...this.#local.keys()], {
      key: records,
    })) as Array<string | null>
    const ids = [...this.#local.keys()]
    present.forEach((value, i) => {
      const id = ids[i]!
      if (value == null) sends.push(this.#write(id, this.#local.get(id)!))
    })
    await Promise.all(sends)
    return this.#local.size
  }

  #startTimer(): void {
    if (this.#timer || this.#heartbeatMs === 0) return
    this.#timer = setInterval(() => {
      this.heartbeat().catch(() => {
        // The next beat retries; entries outlive a missed beat (heartbeat < ttl).
      })
    }, this.#heartbeatMs)
    this.#timer.unref()
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Live connections (all, or of one room, or of one node), oldest expiry first, at most `limit`. */
  async list({
    room,
    node,
    limit = 1000,
  }: {
    room?: string
    node?: string
    limit?: number
  } = {}): Promise<PresenceRecord[]> {
    const key = room === undefined ? this.#keys.expiry : this.#keys.room(this.#id(room, 'room'))
    const now = this.#now()
    const reply = (await this.#conn.send<string[]>(
      ['ZRANGEBYSCORE', key, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', '0', String(limit)],
      { key },
    )) as string[]
    if (reply.length === 0) return []
    const ids: string[] = []
    const scores: number[] = []
    for (let i = 0; i + 1 < reply.length; i += 2) {
      ids.push(String(reply[i]))
      scores.push(Number(reply[i + 1]))
    }
    const { records } = this.#keys
    const values = (await this.#conn.send<Array<string | null>>(['HMGET', records, ...ids], {
      key: records,
    })) as Array<string | null>
    const out: PresenceRecord[] = []
    values.forEach((value, i) => {
      if (value == null) return
      try {
        const r = JSON.parse(value) as Omit<PresenceRecord, 'id' | 'expiresAt'>
        if (node !== undefined && r.node !== node) return
        out.push({
          id: ids[i]!,
          node: r.node,
          user: r.user ?? undefined,
          rooms: r.rooms ?? [],
          meta: r.meta ?? undefined,
          connectedAt: r.connectedAt,
          expiresAt: scores[i]!,
        })
      } catch {}
    })
    return out
  }

  /** Number of live connections (or of one room's members). */
  async count(room?: string): Promise<number> {
    const key = room === undefined ? this.#keys.expiry : this.#keys.room(this.#id(room, 'room'))
    return Number(await this.#conn.send(['ZCOUNT', key, `(${this.#now()}`, '+inf'], { key }))
  }

  /** Live connections per node. */
  async nodes(): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for (const r of await this.list({ limit: 100_000 })) out.set(r.node, (out.get(r.node) ?? 0) + 1)
    return out
  }

  /**
   * Removes up to `limit` expired connections (of crashed nodes) with their room memberships; any node may
   * run it, e.g. on a timer. Resolves with how many were removed.
   */
  async sweep(limit = 100): Promise<number> {
    const { records, expiry } = this.#keys
    const now = this.#now()
    const ids = (await this.#conn.send<string[]>(
      ['ZRANGEBYSCORE', expiry, '-inf', String(now), 'LIMIT', '0', String(limit)],
      { key: expiry },
    )) as string[]
    if (ids.length === 0) return 0
    const values = (await this.#conn.send<Array<string | null>>(['HMGET', records, ...ids.map(String)], {
      key: records,
    })) as Array<string | null>
    let removed = 0
    for (let i = 0; i < ids.length; i++) {
      const id = String(ids[i])
      let rooms: string[] = []
      try {
        rooms = (JSON.parse(values[i] ?? '{}') as { rooms?: string[] }).rooms ?? []
      } catch {}
      // Memberships first, then (final call) the record: the script re-checks expiry every time.
      let alive = false
      for (const room of rooms) {
        if ((await this.#sweep([records, expiry, this.#keys.room(room)], [now, id, '0'])) === 0) {
          alive = true
          break
        }
      }
      if (alive) continue
      removed += Number(await this.#sweep([records, expiry, this.#keys.room('')], [now, id, '1']))
    }
    return removed
  }

  /** Unregisters every local connection and stops the heartbeat. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stopTimer()
    await Promise.all([...this.#local.keys()].map((id) => this.leave(id).catch(() => {})))
  }

  /** `await using presence = new Presence(conn)` closes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
