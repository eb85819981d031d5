/**
 * Real-time: a contact change is published on @cache/events PubSub (channel `contacts:<tenant>`), so every
 * instance of the service hears it, and each instance sends it to its WebSocket clients of that tenant only.
 * Sockets authenticate with the session cookie (the express-session middleware runs on the upgrade request).
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Connection } from '@cache/client'
import { PubSub } from '@cache/events'
import type { RequestHandler } from 'express'
import { type WebSocket, WebSocketServer } from 'ws'
import { z } from 'zod'

/** What a WebSocket client receives. */
export interface ContactUpdated {
  type: 'contact.updated'
  id: string
  tenant: string
}

const contactUpdated = z.object({ type: z.literal('contact.updated'), id: z.string(), tenant: z.string() })

/** Per-tenant fan-out of contact changes to WebSocket clients. */
export class Realtime {
  readonly #bus: PubSub
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 4096 })
  readonly #sockets = new Map<string, Set<WebSocket>>()
  readonly #subscriptions = new Map<string, Promise<{ unsubscribe(): Promise<void> }>>()
  #closed = false

  constructor(conn: Connection, log: (line: string) => void) {
    this.#bus = new PubSub(conn)
    this.#bus.on('error', (err: Error) => log(`realtime: ${err.message}`))
  }

  /** Publishes a contact change to every instance (then to that tenant's sockets). */
  async contactUpdated(tenant: string, id: string): Promise<void> {
    await this.#bus.publish(`contacts:${tenant}`, {
      type: 'contact.updated',
      id,
      tenant,
    } satisfies ContactUpdated)
  }

  /** Connected sockets, per tenant. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.#sockets].map(([t, s]) => [t, s.size]))
  }

  /** Serves `/ws` on `server`, authenticating each upgrade through `session` (the express-session middleware). */
  attach(server: Server, session: RequestHandler): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!req.url?.startsWith('/ws')) return socket.destroy()
      const refuse = (status: string) => {
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      }
      const fakeRes = { getHeader() {}, setHeader() {}, on() {}, once() {}, end() {} } as never
      session(req as never, fakeRes, (err?: unknown) => {
        const user = (req as unknown as { session?: { user?: { id: string; tenant: string } } }).session?.user
        if (err) return refuse('503 Service Unavailable')
        if (!user) return refuse('401 Unauthorized')
        this.#subscribe(user.tenant).then(
          () => this.#wss.handleUpgrade(req, socket, head, (ws) => this.#register(user.tenant, ws)),
          () => refuse('503 Service Unavailable'),
        )
      })
    })
  }

  #register(tenant: string, ws: WebSocket): void {
    const set = this.#sockets.get(tenant) ?? new Set<WebSocket>()
    this.#sockets.set(tenant, set)
    set.add(ws)
    ws.on('close', () => set.delete(ws))
    ws.on('error', () => ws.terminate())
    ws.send(JSON.stringify({ type: 'hello', tenant }))
  }

  #subscribe(tenant: string): Promise<unknown> {
    let sub = this.#subscriptions.get(tenant)
    if (!sub) {
      sub = this.#bus.subscribe(`contacts:${tenant}`, (raw) => {
        const msg = contactUpdated.safeParse(raw)
        if (!msg.success || msg.data.tenant !== tenant) return
        const text = JSON.stringify(msg.data)
        for (const ws of this.#sockets.get(tenant) ?? []) if (ws.readyState === ws.OPEN) ws.send(text)
      })
      sub.catch(() => this.#subscriptions.delete(tenant))
      this.#subscriptions.set(tenant, sub)
    }
    return sub
  }

  /** Closes every socket and the subscriptions. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const set of this.#sockets.values()) for (const ws of set) ws.terminate()
    this.#wss.close()
    await Promise.allSettled([...this.#subscriptions.values()].map(async (s) => (await s).unsubscribe()))
    await this.#bus.close()
  }
}
