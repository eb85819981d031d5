/**
 * WebSocket fan-out with the `ws` package (an optional peer dependency: only types are imported here, you
 * pass your own WebSocketServer). Each socket is registered in the RoomHub's presence registry and speaks a
 * small JSON protocol:
 *
 * client → server: `{"type":"join","room":"r"}`, `{"type":"leave","room":"r"}`,
 * `{"type":"broadcast","room":"r","data":…}` (only to rooms the socket is in)
 * server → client: `{"type":"joined","room":"r"}`, `{"type":"left","room":"r"}`,
 * `{"type":"message","room":"r","data":…}`, `{"type":"error","error":"…"}`
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { z } from 'zod'
import type { RoomHub } from './rooms.js'

/** The parts of a `ws` WebSocket used here. */
export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  on(event: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown
  on(event: 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}

/** The parts of a `ws` WebSocketServer used here. */
export interface SocketServerLike {
  on(event: 'connection', listener: (socket: any, request: IncomingMessage) => void): unknown
  off(event: 'connection', listener: (socket: any, request: IncomingMessage) => void): unknown
}

/** Options of `attachWebSocketServer()`. */
export interface WebSocketHubOptions {
  /** Identifies a new socket (authentication goes here); return `undefined` to refuse it (closed with 4401). */
  identify?: (
    request: IncomingMessage,
  ) =>
    | { id?: string; user?: string; meta?: Record<string, unknown> }
    | undefined
    | Promise<{ id?: string; user?: string; meta?: Record<string, unknown> } | undefined>
  /** Largest accepted frame (bytes). @default 65536 */
  maxMessageBytes?: number
}

const OPEN = 1

const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('join'), room: z.string().min(1).max(256) }),
  z.object({ type: z.literal('leave'), room: z.string().min(1).max(256) }),
  z.object({ type: z.literal('broadcast'), room: z.string().min(1).max(256), data: z.unknown() }),
])

function text(data: unknown): string {
  if (typeof data === 'string') return data
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]).toString('utf8')
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8')
  return String(data)
}

/**
 * Serves a RoomHub over a `ws` WebSocketServer: registers each socket (presence with heartbeats), handles
 * join/leave/broadcast frames, delivers room messages, and unregisters the socket when it closes.
 * Resolves the returned function to detach (open sockets are disconnected).
 * @example
 * import { WebSocketServer } from 'ws'
 * import { RoomHub } from '@cache/events'
 * import { attachWebSocketServer } from '@cache/events/ws'
 * const detach = attachWebSocketServer(new WebSocketServer({ port: 8080 }), new RoomHub(conn))
 */
export function attachWebSocketServer(
  wss: SocketServerLike,
  hub: RoomHub,
  options: WebSocketHubOptions = {},
): () => Promise<void> {
  const maxBytes = options.maxMessageBytes ?? 65_536
  const sockets = new Map<string, SocketLike>()
  const reply = (socket: SocketLike, message: unknown) => {
    if (socket.readyState === OPEN) socket.send(JSON.stringify(message))
  }

  const onConnection = async (socket: SocketLike, request: IncomingMessage) => {
    // Frames that arrive before registration completes are handled in order once it has.
    let chain: Promise<void> = Promise.resolve()
    let id: string | undefined
    let closed = false
    socket.on('close', () => {
      closed = true
      chain = chain.then(async () => {
        if (id === undefined) return
        sockets.delete(id)
        await hub.disconnect(id).catch(() => {})
      })
    })
    socket.on('error', () => {})
    socket.on('message', (data) => {
      chain = chain.then(() => handle(text(data)))
    })
    const handle = async (raw: string) => {
      if (closed || id === undefined) return
      if (Buffer.byteLength(raw) > maxBytes)
        return reply(socket, { type: 'error', error: 'message too large' })
      let parsed: z.infer<typeof clientMessage>
      try {
        const result = clientMessage.safeParse(JSON.parse(raw))
        if (!result.success) return reply(socket, { type: 'error', error: 'invalid message' })
        parsed = result.data
      } catch {
        return reply(socket, { type: 'error', error: 'invalid JSON' })
      }
      try {
        if (parsed.type === 'join') {
          await hub.join(id, parsed.room)
          reply(socket, { type: 'joined', room: parsed.room })
        } else if (parsed.type === 'leave') {
          await hub.leave(id, parsed.room)
          reply(socket, { type: 'left', room: parsed.room })
        } else if (!hub.isIn(id, parsed.room)) {
          reply(socket, { type: 'error', error: `not in room ${parsed.room}` })
        } else {
          await hub.broadcast(parsed.room, parsed.data)
        }
      } catch {
        reply(socket, { type: 'error', error: 'temporarily unavailable' })
      }
    }
    chain = chain.then(async () => {
      try {
        const who = options.identify ? await options.identify(request) : {}
        if (!who) {
          socket.close(4401, 'unauthorized')
          return
        }
        const connectionId = who.id ?? randomUUID()
        const info: { user?: string; meta?: Record<string, unknown> } = {}
        if (who.user !== undefined) info.user = who.user
        if (who.meta !== undefined) info.meta = who.meta
        await hub.connect(connectionId, (data, room) => reply(socket, { type: 'message', room, data }), info)
        id = connectionId
        sockets.set(connectionId, socket)
        if (closed) {
          sockets.delete(connectionId)
          await hub.disconnect(connectionId)
        }
      } catch {
        socket.close(1011, 'registration failed')
      }
    })
  }

  const listener = (socket: SocketLike, request: IncomingMessage) => void onConnection(socket, request)
  wss.on('connection', listener)
  return async () => {
    wss.off('connection', listener)
    const ids = [...sockets.keys()]
    sockets.clear()
    await Promise.all(ids.map((id) => hub.disconnect(id).catch(() => {})))
  }
}
