/**
 * Identities seen by this process, keyed by the signed session cookie, so that read-only contact routes
 * can answer from the cache while Redis (and so the session store) is unreachable. Bounded in size and
 * age; a session revoked during the outage may read cached contacts for at most MAX_AGE_MS.
 */
import type { Request } from 'express'
import type { SessionUser } from './auth.js'

const MAX_ENTRIES = 10_000
const MAX_AGE_MS = 10 * 60_000
const READ_ONLY = /^\/contacts(\/[^/]+)?$/

function cookie(req: Request): string | undefined {
  const header = req.headers.cookie
  if (!header) return undefined
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === 'sid') return value.join('=')
  }
  return undefined
}

/** The remembered identities. */
export class OutageIdentities {
  readonly #seen = new Map<string, { user: SessionUser; at: number }>()

  /** Remembers the user of a request whose session loaded from Redis. */
  remember(req: Request, user: SessionUser): void {
    const sid = cookie(req)
    if (!sid) return
    this.#seen.delete(sid)
    this.#seen.set(sid, { user, at: Date.now() })
    if (this.#seen.size > MAX_ENTRIES) this.#seen.delete(this.#seen.keys().next().value as string)
  }

  /** The user of a read-only request's cookie, if seen recently. */
  recall(req: Request): SessionUser | undefined {
    if (req.method !== 'GET' || !READ_ONLY.test(req.path)) return undefined
    const sid = cookie(req)
    const seen = sid ? this.#seen.get(sid) : undefined
    if (!seen || Date.now() - seen.at > MAX_AGE_MS) return undefined
    return seen.user
  }

  /** Forgets every identity of a user (after "log out everywhere"). */
  forget(user: { tenant: string; id: string }): void {
    for (const [sid, seen] of this.#seen)
      if (seen.user.tenant === user.tenant && seen.user.id === user.id) this.#seen.delete(sid)
  }
}
