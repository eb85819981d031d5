/**
 * @cache/example-service: a small multi-tenant CRM API on Express built on every @cache package.
 * `startService()` opens the database (PGlite or Postgres), connects to Redis, builds the family
 * (family.ts) and serves the HTTP API, /ws, /healthz, /metrics and /dashboard.
 * @example
 * const svc = await startService({ redis: { url: 'redis://127.0.0.1:6380' }, port: 0 })
 * console.log(svc.url, svc.dashboardUrl, svc.dashboardToken)
 * await svc.close()
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isUnavailable } from '@cache/client'
import { dashboard } from '@cache/dashboard'
import { prometheusText } from '@cache/metrics/prometheus'
import { rateLimit } from '@cache/ratelimit/express'
import express, { type NextFunction, type Request, type Response } from 'express'
import session from 'express-session'
import { authRoutes } from './auth.js'
import { businessRoutes } from './business.js'
import { resolveOptions, type ServiceOptions } from './config.js'
import { contactRoutes } from './contacts.js'
import { openDb } from './db.js'
import { createFamily, type Family } from './family.js'
import { errorHandler, sendError } from './http.js'

export type { LimitOptions, ServiceOptions } from './config.js'
export { parseStartConfig, resolveOptions } from './config.js'
export type { Family } from './family.js'

/** A running service. */
export interface RunningService {
  /** http://127.0.0.1:<port> */
  url: string
  /** `${url}/dashboard` */
  dashboardUrl: string
  dashboardToken: string
  /** The same database the service uses. */
  db: { query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> }
  /** A postgres:// URL of that database for other processes (a worker): pglite-socket for PGlite. */
  databaseUrl: string
  /** The objects the service is built from (for tests and the chaos suite). */
  family: Family
  /** Closes HTTP, workers, connections and the database. Idempotent. */
  close(): Promise<void>
}

/** Starts the service. */
export async function startService(opts: ServiceOptions): Promise<RunningService> {
  const o = resolveOptions(opts)
  const db = await openDb({ url: o.databaseUrl, dataDir: o.dataDir })
  let f: Family
  try {
    f = await createFamily(o, db)
  } catch (err) {
    await db.close()
    throw err
  }
  const dashboardToken = o.dashboardToken ?? randomBytes(18).toString('base64url')
  const requests = f.metrics.counter('crm_http_requests_total', {
    help: 'HTTP requests',
    labels: ['route', 'status'],
  })
  const latency = f.metrics.histogram('crm_http_request_duration_seconds', {
    help: 'HTTP latency',
    labels: ['route'],
  })

  const app = express()
  app.disable('x-powered-by')
  app.use((req, res, next) => {
    const start = performance.now()
    res.on('finish', () => {
      // bounded labels: the route pattern (req.baseUrl is reset once an error left the router)
      const mount = req.originalUrl.startsWith('/api/') ? '/api' : ''
      const other = req.originalUrl.startsWith('/dashboard') ? '/dashboard' : 'other'
      const route = req.route?.path ? `${mount}${req.route.path}` : other
      requests.inc({ route, status: String(res.statusCode) })
      latency.observe((performance.now() - start) / 1000, { route })
    })
    next()
  })

  app.get('/healthz', async (_req, res) => {
    const ping = await f.status.ping(500)
    res.json({
      ok: true,
      redis: ping.up ? 'up' : 'down',
      redisLatencyMs: Math.round(ping.latencyMs * 100) / 100,
      paymentsBreaker: f.breaker.state,
      db: f.db.kind,
    })
  })

  app.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4').send(await prometheusText(f.metrics))
  })

  // @cache/dashboard: token-protected by the handler itself; its actions may invalidate contact tags and
  // revoke a user's sessions (users are `<tenant>:<id>` in the one `crm` session tenant).
  app.use(
    '/dashboard',
    dashboard({
      conn: f.conn,
      metrics: f.metrics,
      auth: { token: dashboardToken },
      readOnly: false,
      caches: { contacts: f.cache },
      sessions: f.store.sessions,
      namespaces: { queues: 'jobs' },
    }),
  )

  // A touch is best-effort (the next request extends the session again). express-session passes a failed
  // touch to next(err) after the response has started, and Express then destroys the socket: while Redis
  // is unreachable the client got a connection reset instead of the answer. Found by the chaos suite
  // (tools/chaos, docs/reliability.md "Findings").
  const touch = f.store.touch.bind(f.store)
  f.store.touch = (sid, sess, cb) => touch(sid, sess, (err) => cb?.(err && isUnavailable(err) ? null : err))
  const sessions = session({
    name: 'sid',
    store: f.store,
    secret: f.sessionSecret,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 30 * 60_000 },
  })
  const identities = f.identities
  const api = express.Router()
  api.use(express.json({ limit: '64kb' }))
  api.use(sessions)
  // Redis down while loading the session: read-only contact routes may go on with the identity this
  // process saw for the same signed cookie (a documented trade-off); everything else gets a fast 503.
  api.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent || res.locals.routed) return
    if (isUnavailable(err)) {
      const user = identities.recall(req)
      if (user) {
        req.user = user
        req.degraded = true
        return next()
      }
    }
    next(err)
  })
  api.use((req, res, next) => {
    res.locals.routed = true
    const user = req.session?.user
    if (user && !req.user) identities.remember(req, user)
    if (user) f.activeUsers.add(user.id, { tenant: user.tenant })
    next()
  })
  const tenantOf = (req: Request) => req.user?.tenant ?? req.session?.user?.tenant
  const userKeyOf = (req: Request) => {
    const u = req.user ?? req.session?.user
    return u ? `${u.tenant}:${u.id}` : undefined
  }
  const limitedBody = { error: { code: 'E_RATE_LIMITED', message: 'too many requests' } }
  api.use(
    rateLimit({
      limiter: f.limits.tenant,
      key: (info) => {
        const t = tenantOf(info.req)
        return t ? `tenant:${t}` : `ip:${info.ip}`
      },
      message: limitedBody,
    }),
  )
  api.use(rateLimit({ limiter: f.limits.user, key: 'user', user: userKeyOf, message: limitedBody }))
  authRoutes(f, api)
  contactRoutes(f, api)
  businessRoutes(f, api)
  api.use((_req, _res, next) => next(Object.assign(new Error('no such route'), { status: 404 })))
  app.use('/api', api)
  app.use((_req, res) => sendError(res, Object.assign(new Error('no such route'), { status: 404 })))
  app.use(errorHandler(f.log))

  const server = createServer(app)
  server.keepAliveTimeout = 5_000
  server.requestTimeout = 15_000
  f.realtime.attach(server, sessions)
  server.listen(o.port, o.host)
  try {
    await once(server, 'listening')
  } catch (err) {
    await f.close()
    await db.close()
    throw err
  }
  const { port } = server.address() as AddressInfo
  const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`
  let closing: Promise<void> | undefined
  return {
    url,
    dashboardUrl: `${url}/dashboard`,
    dashboardToken,
    db,
    databaseUrl: o.databaseUrl ?? db.url,
    family: f,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise((resolve) => server.close(resolve))
        server.closeAllConnections()
        await closed
        await f.close()
        await db.close()
      })()),
  }
}
