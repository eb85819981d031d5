import { InvalidOptionError } from '@cache/client'
import type { Session, SessionData, SessionManager } from '@cache/session'
import { PKG } from './defaults.js'
import { withHeaders } from './web-rate-limit.js'

/** Cookie attributes of the session cookie. */
export interface SessionCookieOptions {
  /** @default 'sid' */
  name?: string
  /** @default '/' */
  path?: string
  domain?: string
  /** @default true when the request is https */
  secure?: boolean
  /** @default 'Lax' */
  sameSite?: 'Strict' | 'Lax' | 'None'
}

/** Options of `withSession(handler, options)`. */
export interface WebSessionOptions {
  /** A @cache/session SessionManager. */
  sessions: SessionManager
  /** The tenant of a request's sessions. @default 'default' */
  tenant?: string | ((request: Request) => string)
  /** Extend the idle timeout on every request and send the cookie again with the new expiry. @default true */
  rolling?: boolean
  cookie?: SessionCookieOptions
}

/** What a handler gets to read and change the request's session. */
export interface SessionHandle<T extends SessionData = SessionData> {
  /** The session, or null when the request has none (or it expired, or was revoked). */
  readonly current: Session<T> | null
  /** Starts a session for `userId` (a new id: any session the request had is replaced, against fixation). */
  login(userId: string, data?: T, meta?: Record<string, unknown>): Promise<Session<T>>
  /** Changes the data atomically (see SessionManager.update); null when there is no session. */
  update(fn: (data: T) => T | Promise<T>): Promise<Session<T> | null>
  /** Moves the session to a new id (after a privilege change). */
  regenerate(): Promise<Session<T> | null>
  /** Ends the session and clears the cookie. */
  logout(): Promise<void>
}

/** The value of one cookie of a Cookie header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim()
      try {
        return decodeURIComponent(raw)
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

/** A Set-Cookie value. */
function cookieHeader(
  name: string,
  value: string,
  maxAgeMs: number,
  o: SessionCookieOptions,
  secure: boolean,
): string {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${o.path ?? '/'}`,
    `Max-Age=${Math.max(0, Math.round(maxAgeMs / 1000))}`,
    `Expires=${new Date(Date.now() + Math.max(0, maxAgeMs)).toUTCString()}`,
    'HttpOnly',
    `SameSite=${o.sameSite ?? 'Lax'}`,
  ]
  if (o.domain) parts.push(`Domain=${o.domain}`)
  if (secure) parts.push('Secure')
  return parts.join('; ')
}

/**
 * Sessions for a Web-standard handler: reads the session cookie, gives the handler a `SessionHandle`
 * (its second argument, before the framework's own), and sends the cookie back when the session starts,
 * moves, rolls or ends. Ids are checked against @cache/session (hashed in Redis, tenant-scoped); a forged
 * or expired cookie reads as no session.
 * @example export const POST = withSession(async (req, session) => { await session.login('u42'); return new Response('hi') }, { sessions })
 */
export function withSession<T extends SessionData = SessionData, Rest extends unknown[] = []>(
  handler: (request: Request, session: SessionHandle<T>, ...rest: Rest) => Response | Promise<Response>,
  options: WebSessionOptions,
): (request: Request, ...rest: Rest) => Promise<Response> {
  const { sessions, tenant = 'default', rolling = true, cookie = {} } = options ?? ({} as WebSessionOptions)
  if (!sessions || typeof sessions.get !== 'function' || typeof sessions.create !== 'function')
    throw new InvalidOptionError(PKG, 'sessions', 'must be a SessionManager of @cache/session')
  const name = cookie.name ?? 'sid'
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
    throw new InvalidOptionError(PKG, 'cookie.name', 'must be a cookie name')
  return async (request, ...rest) => {
    const scope = { tenant: typeof tenant === 'function' ? tenant(request) : tenant }
    const secure = cookie.secure ?? new URL(request.url).protocol === 'https:'
    const id = readCookie(request.headers.get('cookie'), name)
    let current: Session<T> | null = null
    if (id) current = await sessions.get<T>(id, { ...scope, touch: rolling }).catch(() => null)
    let setCookie: string | undefined
    const issue = (s: Session<T>) => {
      setCookie = cookieHeader(name, s.id, s.expiresAt - Date.now(), cookie, secure)
    }
    if (current && rolling) issue(current)
    const handle: SessionHandle<T> = {
      get current() {
        return current
      },
      async login(userId, data, meta) {
        if (current) await sessions.destroy(current.id, scope)
        current = await sessions.create<T>({
          tenant: scope.tenant,
          userId,
          ...(data ? { data } : {}),
          ...(meta ? { meta } : {}),
        })
        issue(current)
        return current
      },
      async update(fn) {
        if (!current) return null
        current = await sessions.update<T>(current.id, fn, scope)
        if (current && rolling) issue(current)
        return current
      },
      async regenerate() {
        if (!current) return null
        current = await sessions.regenerate<T>(current.id, scope)
        if (current) issue(current)
        return current
      },
      async logout() {
        if (current) await sessions.destroy(current.id, scope)
        current = null
        setCookie = cookieHeader(name, '', 0, cookie, secure)
      },
    }
    const response = await handler(request, handle, ...rest)
    if (!setCookie) return response
    const out = withHeaders(response, {})
    out.headers.append('set-cookie', setCookie)
    // a response that carries a session cookie is personal: shared caches must not keep it
    if (!out.headers.has('cache-control')) out.headers.set('cache-control', 'private, no-store')
    return out
  }
}
