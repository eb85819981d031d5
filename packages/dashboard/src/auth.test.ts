import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { cookies, Guard, safeEqual } from './auth.js'

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage

describe('Guard', () => {
  const token = 'a-long-enough-token'
  const guard = new Guard(token)

  it('allows the Bearer token or the login cookie, nothing else', () => {
    expect(guard.allowed(req({}))).toBe(false)
    expect(guard.allowed(req({ authorization: `Bearer ${token}` }))).toBe(true)
    expect(guard.allowed(req({ authorization: `Bearer ${token}x` }))).toBe(false)
    expect(guard.allowed(req({ authorization: token }))).toBe(false)
    const cookie = guard.setCookie('/d/', false).split(';')[0]!
    expect(cookie).not.toContain(token)
    expect(guard.allowed(req({ cookie: `other=1; ${cookie}` }))).toBe(true)
    expect(guard.allowed(req({ cookie: `${cookie}x` }))).toBe(false)
    // Another token's cookie does not open this dashboard.
    expect(new Guard('another-long-token').allowed(req({ cookie }))).toBe(false)
  })

  it('sets an HttpOnly SameSite=Strict cookie, Secure over TLS, and clears it', () => {
    expect(guard.setCookie('/d/', true)).toMatch(
      /; Path=\/d\/; HttpOnly; SameSite=Strict; Secure; Max-Age=\d+$/,
    )
    expect(guard.setCookie('/d/', false)).not.toContain('Secure')
    expect(guard.clearCookie('/d/')).toContain('Max-Age=0')
  })

  it('checks the login token and the CSRF header', () => {
    expect(guard.login(token)).toBe(true)
    expect(guard.login('nope')).toBe(false)
    expect(guard.csrfOk(req({ 'x-csrf-token': guard.csrf }))).toBe(true)
    expect(guard.csrfOk(req({ 'x-csrf-token': `${guard.csrf}x` }))).toBe(false)
    expect(guard.csrfOk(req({}))).toBe(false)
    // Stable for a token (every process of a fleet agrees), different without one.
    expect(new Guard(token).csrf).toBe(guard.csrf)
    expect(new Guard(undefined).csrf).not.toBe(new Guard(undefined).csrf)
  })

  it('without a token: reading is open, login is refused', () => {
    const open = new Guard(undefined)
    expect(open.protected).toBe(false)
    expect(open.allowed(req({}))).toBe(true)
    expect(open.login('anything')).toBe(false)
  })

  it('safeEqual and cookies', () => {
    expect(safeEqual('abc', 'abc')).toBe(true)
    expect(safeEqual('abc', 'abd')).toBe(false)
    expect(safeEqual('abc', 'abcd')).toBe(false)
    expect(cookies(req({ cookie: 'a=1; b = 2;bad; c=x=y' }))).toEqual({ a: '1', b: '2', c: 'x=y' })
  })
})
