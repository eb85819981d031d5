/**
 * Auth routes: a one-time code (@cache/session OneTimeCodes) plus the password (scrypt) logs in; the
 * session lives in Redis behind the `sid` cookie (SessionStore for express-session); refresh tokens rotate
 * (RefreshTokens, reuse revokes the family); "log out everywhere" revokes every session of the user
 * (the per-user index) and every refresh-token family issued to them.
 */
import { isCacheError } from '@cache/client'
import type { NextFunction, Request, Response, Router } from 'express'
import { z } from 'zod'
import type { Family } from './family.js'
import { HttpError, parse } from './http.js'
import { verifyPassword } from './passwords.js'

/** The user of a session. */
export interface SessionUser {
  id: string
  tenant: string
  email: string
  name: string
}

declare module 'express-session' {
  interface SessionData {
    user: SessionUser
    createdAt: number
    familyId: string
  }
}

declare global {
  namespace Express {
    interface Request {
      /** The authenticated user (set by `requireUser`). */
      user?: SessionUser
      /** True when the user was recognised from this process's memory while Redis was down (read-only routes). */
      degraded?: boolean
    }
  }
}

const tenant = z.string().regex(/^[a-z0-9-]{1,32}$/)
const email = z.string().email().max(200)

interface UserRow {
  id: string
  tenant: string
  email: string
  name: string
  password_hash: string
}

async function findUser(f: Family, t: string, e: string): Promise<UserRow | undefined> {
  const { rows } = await f.db.query<UserRow>('select * from users where tenant = $1 and email = $2', [
    t,
    e.toLowerCase(),
  ])
  return rows[0]
}

const otpSubject = (user: { tenant: string; id: string }) => `login:${user.tenant}:${user.id}`
const familiesKey = (f: Family, user: { tenant: string; id: string }) =>
  f.conn.keys.key('rt-families', user.tenant, user.id)

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())))
}

function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())))
}

/** Remembers a family so that "log out everywhere" can revoke it (RefreshTokens has no per-user index). */
async function rememberFamily(
  f: Family,
  user: { tenant: string; id: string },
  familyId: string,
): Promise<void> {
  const key = familiesKey(f, user)
  await f.conn.redis.sAdd(key, familyId)
  await f.conn.redis.pExpire(key, 30 * 86_400_000)
}

/** Starts a session for `user` (a new id: fixation defence) and issues a refresh token. */
async function startSession(
  f: Family,
  req: Request,
  user: SessionUser,
  familyId?: string,
): Promise<string | undefined> {
  await regenerate(req)
  req.session.user = user
  req.session.createdAt = Date.now()
  let token: string | undefined
  if (!familyId) {
    const issued = await f.refresh.issue({ tenant: user.tenant, userId: user.id })
    await rememberFamily(f, user, issued.familyId)
    familyId = issued.familyId
    token = issued.token
  }
  req.session.familyId = familyId
  await save(req)
  return token
}

/** Requires a session user; answers 401 otherwise. */
export function requireUser(req: Request, _res: Response, next: NextFunction): void {
  const user = req.user ?? req.session?.user
  if (!user) {
    next(new HttpError(401, 'E_UNAUTHENTICATED', 'log in first'))
    return
  }
  req.user = user
  next()
}

/** Mounts /api/auth/*. */
export function authRoutes(f: Family, router: Router): void {
  router.post('/auth/code', async (req, res) => {
    const body = parse(z.object({ tenant, email }), req.body)
    const user = await findUser(f, body.tenant, body.email)
    // The same answer for unknown users: no account enumeration.
    if (!user) return void res.status(202).json({ sent: true })
    const code = await f.codes.issue(otpSubject(user))
    res.status(202).json({ sent: true, ...(f.options.devCodes ? { devCode: code } : {}) })
  })

  router.post('/auth/login', async (req, res) => {
    const body = parse(
      z.object({ tenant, email, password: z.string().min(1).max(200), code: z.string().regex(/^\d{4,12}$/) }),
      req.body,
    )
    const user = await findUser(f, body.tenant, body.email)
    const passwordOk = user ? await verifyPassword(body.password, user.password_hash) : false
    // The code is checked only with the right password: a wrong password never burns a code attempt.
    if (!user || !passwordOk || !(await f.codes.verify(otpSubject(user), body.code))) {
      throw new HttpError(401, 'E_BAD_CREDENTIALS', 'wrong email, password or code')
    }
    const sessionUser: SessionUser = { id: user.id, tenant: user.tenant, email: user.email, name: user.name }
    const refreshToken = await startSession(f, req, sessionUser)
    f.activeUsers.add(user.id, { tenant: user.tenant })
    res.json({ user: { id: user.id, tenant: user.tenant, name: user.name }, refreshToken })
  })

  router.post('/auth/refresh', async (req, res) => {
    const body = parse(z.object({ refreshToken: z.string().min(1).max(200) }), req.body)
    let next: Awaited<ReturnType<Family['refresh']['rotate']>>
    try {
      next = await f.refresh.rotate(body.refreshToken)
    } catch (err) {
      if (isCacheError(err, 'E_TOKEN_REUSED'))
        throw new HttpError(
          401,
          'E_TOKEN_REUSED',
          'refresh token reused: every session of its family is revoked',
        )
      throw err
    }
    const { rows } = await f.db.query<UserRow>('select * from users where tenant = $1 and id = $2', [
      next.tenant,
      next.userId,
    ])
    const user = rows[0]
    if (!user) throw new HttpError(401, 'E_TOKEN_INVALID', 'unknown user')
    await startSession(
      f,
      req,
      { id: user.id, tenant: user.tenant, email: user.email, name: user.name },
      next.familyId,
    )
    res.json({ refreshToken: next.token })
  })

  router.post('/auth/logout-everywhere', requireUser, async (req, res) => {
    const user = req.user as SessionUser
    const revoked = await f.store.revokeUser(`${user.tenant}:${user.id}`)
    f.identities.forget(user)
    const key = familiesKey(f, user)
    const families = await f.conn.redis.sMembers(key)
    await Promise.all(families.map((id) => f.refresh.revoke(id)))
    await f.conn.redis.del(key)
    res.json({ revoked, refreshFamilies: families.length })
  })

  router.get('/me', requireUser, (req, res) => {
    const expires = req.session.cookie.expires
    res.json({
      user: req.user,
      session: { createdAt: req.session.createdAt ?? null, expiresAt: expires ? expires.getTime() : null },
      degraded: req.degraded === true,
    })
  })
}
