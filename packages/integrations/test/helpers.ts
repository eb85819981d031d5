import { once } from 'node:events'
import http, { type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Listens on an ephemeral loopback port; resolves to the base URL. */
export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Closes a server and every idle keep-alive connection. */
export async function shut(server: Server | undefined): Promise<void> {
  if (!server) return
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

async function toRequest(req: IncomingMessage): Promise<Request> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const one of v) headers.append(k, one)
    else if (v !== undefined) headers.set(k, v)
  }
  const body =
    chunks.length && req.method !== 'GET' && req.method !== 'HEAD' ? Buffer.concat(chunks) : undefined
  return new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body })
}

/** A real HTTP server around a Web-standard `(Request) => Response` handler (what Hono, Bun and Deno serve). */
export function serveFetch(handler: (req: Request) => Response | Promise<Response>): Server {
  return http.createServer(async (req, res) => {
    try {
      const response = await handler(await toRequest(req))
      res.statusCode = response.status
      for (const [k, v] of response.headers) if (k !== 'set-cookie') res.setHeader(k, v)
      const cookies = response.headers.getSetCookie()
      if (cookies.length) res.setHeader('set-cookie', cookies)
      res.end(Buffer.from(await response.arrayBuffer()))
    } catch (err) {
      res.statusCode = 500
      res.end(String(err))
    }
  })
}

/** Resolves after `ms`. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
