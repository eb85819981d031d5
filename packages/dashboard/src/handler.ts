import type { IncomingMessage, ServerResponse } from 'node:http'
import { isCacheError } from '@cache/client'
import { ACTIONS, type ActionName, runAction } from './actions.js'
import { ASSETS } from './assets.generated.js'
import { Guard } from './auth.js'
import { DEFAULT_RANGE, RANGES } from './defaults.js'
import { ForbiddenError, ReadOnlyError, UnauthorizedError } from './errors.js'
import { loginHtml, pageHtml } from './html.js'
import { type DashboardOptions, type ResolvedDashboardOptions, resolveOptions } from './options.js'
import { PAGES, type PageData, type PageName, readPage } from './pages/index.js'

/** A request as node:http, Express or Fastify (raw) hands it over. */
export type DashboardRequest = IncomingMessage & { originalUrl?: string; baseUrl?: string; body?: unknown }

/** The handler `dashboard()` returns: node:http's request listener, Express middleware (`next` for the rest). */
export type DashboardHandler = ((
  req: DashboardRequest,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void) & {
  /** The validated options. */
  readonly options: ResolvedDashboardOptions
}

const MAX_BODY = 64 * 1024

/** Sent with every answer: no inline script or style anywhere, no framing, no sniffing, no referrer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-store', ...extra })
  res.end(body)
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

const STATUS: Record<string, number> = {
  E_INVALID_ARGUMENT: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_READ_ONLY: 403,
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.end()
    return
  }
  if (isCacheError(err))
    json(res, STATUS[err.code] ?? 500, { error: { code: err.code, message: err.message } })
  else json(res, 500, { error: { code: 'E_INTERNAL', message: '[@cache/dashboard] internal error' } })
}

async function readBody(req: DashboardRequest): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
  let text: string
  if (
    req.body !== undefined &&
    req.body !== null &&
    !Buffer.isBuffer(req.body) &&
    typeof req.body !== 'string'
  )
    return req.body
  if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) text = String(req.body)
  else {
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > MAX_BODY) throw new ForbiddenError('request body too large')
      chunks.push(c as Buffer)
    }
    text = Buffer.concat(chunks).toString('utf8')
  }
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text))
  if (type === 'application/json') {
    try {
      return JSON.parse(text || '{}')
    } catch {
      throw new ForbiddenError('request body is not JSON')
    }
  }
  throw new ForbiddenError('requests must be application/json')
}

function rangeOf(url: URL): number {
  return RANGES[url.searchParams.get('range') ?? DEFAULT_RANGE] ?? RANGES[DEFAULT_RANGE]!
}

const isPage = (p: string): p is PageName => (PAGES as readonly string[]).includes(p)

/**
 * The dashboard as a node:http handler: pages, their JSON, a live stream (SSE) and the guarded actions.
 * Works as `http.createServer(handler)`, under Express with `app.use('/dashboard', handler)` and in Fastify
 * through `@cache/dashboard/fastify`.
 *
 * @example
 * const handler = dashboard({ conn, metrics, auth: { token: process.env.DASHBOARD_TOKEN } })
 * http.createServer(handler).listen(3001, '127.0.0.1')
 */
export function dashboard(options: DashboardOptions): DashboardHandler {
  const o = resolveOptions(options)
  const guard = new Guard(o.token)
  // One read per page and range per live interval, however many browsers watch it.
  const recent = new Map<string, { at: number; data: Promise<PageData> }>()
  const read = (page: PageName, rangeMs: number): Promise<PageData> => {
    const key = `${page}|${rangeMs}`
    const hit = recent.get(key)
    if (hit && Date.now() - hit.at < o.liveIntervalMs * 0.8) return hit.data
    const data = readPage(o, page, rangeMs)
    recent.set(key, { at: Date.now(), data })
    data.catch(() => recent.delete(key))
    return data
  }

  const live = (req: DashboardRequest, res: ServerResponse, page: PageName, rangeMs: number) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    res.write('retry: 3000\n\n')
    let seq = 0
    let closed = false
    let timer: NodeJS.Timeout | undefined
    const tick = async () => {
      try {
        const data = await read(page, rangeMs)
        if (!closed) res.write(`id: ${++seq}\nevent: data\ndata: ${JSON.stringify(data)}\n\n`)
      } catch (err) {
        if (!closed)
          res.write(
            `event: failure\ndata: ${JSON.stringify({ message: isCacheError(err) ? err.message : 'read failed' })}\n\n`,
          )
      }
      if (!closed) timer = setTimeout(tick, o.liveIntervalMs)
    }
    req.on('close', () => {
      closed = true
      clearTimeout(timer)
    })
    void tick()
  }

  const handle = async (req: DashboardRequest, res: ServerResponse, next?: (err?: unknown) => void) => {
    const raw = req.url ?? '/'
    let rel: string
    let mount: string
    if (req.baseUrl !== undefined && req.originalUrl !== undefined) {
      // Express: req.url is already relative to the mount point.
      mount = req.baseUrl
      // `/dashboard` itself arrives as url '/': send the browser to `/dashboard/` like elsewhere.
      rel = req.originalUrl.split('?')[0] === mount ? '' : raw
    } else {
      mount = o.basePath ?? ''
      if (raw !== mount && !raw.startsWith(`${mount}/`) && !raw.startsWith(`${mount}?`)) {
        if (next) next()
        else send(res, 404, 'text/plain; charset=utf-8', 'not found')
        return
      }
      rel = raw.slice(mount.length)
    }
    const url = new URL(rel || '/', 'http://dashboard.invalid')
    const path = url.pathname
    const base = `${mount}/`
    if (path === '/' && rel.length === 0) {
      send(res, 308, 'text/plain; charset=utf-8', '', { Location: base })
      return
    }
    const method = req.method ?? 'GET'
    if (method === 'GET' && path.startsWith('/assets/')) {
      const asset = ASSETS[path.slice('/assets/'.length)]
      if (!asset) send(res, 404, 'text/plain; charset=utf-8', 'not found')
      else send(res, 200, asset.type, asset.body, { 'Cache-Control': 'public, max-age=3600' })
      return
    }
    if (method === 'POST' && path === '/login') {
      const body = (await readBody(req)) as { token?: unknown }
      if (guard.protected && typeof body.token === 'string' && guard.login(body.token)) {
        const secure =
          (req.socket as { encrypted?: boolean }).encrypted === true ||
          req.headers['x-forwarded-proto'] === 'https'
        send(res, 303, 'text/plain; charset=utf-8', '', {
          Location: base,
          'Set-Cookie': guard.setCookie(base, secure),
        })
      } else send(res, 401, 'text/html; charset=utf-8', loginHtml(base, true))
      return
    }
    if (method === 'POST' && path === '/logout') {
      send(res, 303, 'text/plain; charset=utf-8', '', {
        Location: base,
        'Set-Cookie': guard.clearCookie(base),
      })
      return
    }
    const api = path.startsWith('/api/')
    if (!guard.allowed(req)) {
      if (api) fail(res, new UnauthorizedError())
      else send(res, 401, 'text/html; charset=utf-8', loginHtml(base, false))
      return
    }
    const [, first, second, third] = path.split('/')
    if (method === 'GET' && !api) {
      const page = path === '/' ? 'overview' : (first ?? '')
      if (second === undefined && isPage(page)) {
        send(
          res,
          200,
          'text/html; charset=utf-8',
          pageHtml(page, {
            base,
            csrf: guard.csrf,
            readOnly: o.readOnly,
            protected: guard.protected,
            liveMs: o.liveIntervalMs,
          }),
        )
        return
      }
    }
    if (api && method === 'GET' && second === 'pages' && third && isPage(third)) {
      json(res, 200, await read(third, rangeOf(url)))
      return
    }
    if (api && method === 'GET' && second === 'live' && third && isPage(third)) {
      live(req, res, third, rangeOf(url))
      return
    }
    if (api && method === 'POST' && second === 'actions' && third && Object.hasOwn(ACTIONS, third)) {
      if (o.readOnly) throw new ReadOnlyError()
      if (!guard.csrfOk(req)) throw new ForbiddenError('a valid X-CSRF-Token header is required')
      json(res, 200, await runAction(o, third as ActionName, await readBody(req)))
      return
    }
    if (api)
      json(res, 404, { error: { code: 'E_NOT_FOUND', message: '[@cache/dashboard] no such endpoint' } })
    else send(res, 404, 'text/plain; charset=utf-8', 'not found')
  }

  const handler = (req: DashboardRequest, res: ServerResponse, next?: (err?: unknown) => void): void => {
    handle(req, res, next).catch((err) => fail(res, err))
  }
  return Object.assign(handler, { options: o })
}
