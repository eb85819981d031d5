import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { COOKIE_NAME } from './defaults.js'

/** Equal strings in constant time (for the token, the cookie and the CSRF token). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The cookies of a request. */
export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim()
  }
  return out
}

/**
 * Who may read and who may act. Stateless: the cookie is an HMAC of a fixed label keyed by the token (so
 * every process of a fleet accepts it and changing the token logs everyone out), the CSRF token an HMAC
 * keyed by the token too. Without a token, the CSRF key is random per process: a page from elsewhere
 * cannot read it (no CORS), so it cannot post.
 */
export class Guard {
  readonly #token: string | undefined
  readonly #key: Buffer
  readonly #cookie: string | undefined
  readonly csrf: string

  constructor(token: string | undefined) {
    this.#token = token
    this.#key = token === undefined ? randomBytes(32) : Buffer.from(token)
    this.#cookie = token === undefined ? undefined : this.#mac('session')
    this.csrf = this.#mac('csrf')
  }

  #mac(label: string): string {
    return createHmac('sha256', this.#key).update(`@cache/dashboard:${label}`).digest('base64url')
  }

  /** True when no token is set, or the request carries it (Bearer header or login cookie). */
  allowed(req: IncomingMessage): boolean {
    if (this.#token === undefined) return true
    const auth = req.headers.authorization
    if (auth?.startsWith('Bearer ') && safeEqual(auth.slice(7).trim(), this.#token)) return true
    const c = cookies(req)[COOKIE_NAME]
    return c !== undefined && safeEqual(c, this.#cookie!)
  }

  /** The login form's check: the submitted token is the token. */
  login(submitted: string): boolean {
    return this.#token !== undefined && safeEqual(submitted, this.#token)
  }

  /** The Set-Cookie header of a successful login (HttpOnly, SameSite=Strict, Secure over TLS). */
  setCookie(path: string, secure: boolean): string {
    return `${COOKIE_NAME}=${this.#cookie}; Path=${path}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}; Max-Age=43200`
  }

  /** The Set-Cookie header that logs out. */
  clearCookie(path: string): string {
    return `${COOKIE_NAME}=; Path=${path}; HttpOnly; SameSite=Strict; Max-Age=0`
  }

  /** The request's X-CSRF-Token header is this dashboard's CSRF token. */
  csrfOk(req: IncomingMessage): boolean {
    const h = req.headers['x-csrf-token']
    return typeof h === 'string' && safeEqual(h, this.csrf)
  }

  /** True when a token is set. */
  get protected(): boolean {
    return this.#token !== undefined
  }
}
