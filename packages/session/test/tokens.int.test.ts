import { spawn } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { OneTimeCodes, RefreshTokens } from '../src/index.js'
import { codeOf, sharedConnection, sleep } from './helpers.js'

const worker = fileURLToPath(new URL('./child-worker.ts', import.meta.url))
const root = fileURLToPath(new URL('../../..', import.meta.url))

function run(args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@cache/source', '--import', 'tsx', worker, ...args],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => {
      stdout += c
    })
    child.stderr.on('data', (c) => {
      stderr += c
    })
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as string[])
        : reject(new Error(`worker exited ${code}: ${stderr}`)),
    )
  })
}

describe.each(['standalone', 'cluster'] as const)('RefreshTokens on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('rotates; a reused token revokes the family and emits cache:session:token-reuse', async () => {
    const refresh = new RefreshTokens(conn)
    const first = await refresh.issue({ tenant: 't1', userId: 'u42' })
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    const second = await refresh.rotate(first.token)
    expect(second.familyId).toBe(first.familyId)
    expect(second).toMatchObject({ tenant: 't1', userId: 'u42' })
    const third = await refresh.rotate(second.token)
    const events: unknown[] = []
    const listen = (m: unknown) => events.push(m)
    diagnostics.subscribe('cache:session:token-reuse', listen)
    expect(await codeOf(refresh.rotate(first.token))).toBe('E_TOKEN_REUSED')
    diagnostics.unsubscribe('cache:session:token-reuse', listen)
    expect(events).toEqual([{ familyId: first.familyId, tenant: 't1', userId: 'u42' }])
    expect(await codeOf(refresh.rotate(third.token))).toBe('E_TOKEN_INVALID') // the family is gone
    await refresh.close()
  })

  it('two parallel rotations of one token: exactly one succeeds', async () => {
    const refresh = new RefreshTokens(conn)
    const { token } = await refresh.issue({ tenant: 't1', userId: 'u-race' })
    const results = await Promise.all([codeOf(refresh.rotate(token)), codeOf(refresh.rotate(token))])
    expect(results.sort()).toEqual(['E_TOKEN_REUSED', 'ok'])
  })

  it('reuseInterval accepts a retry of the previous token; idle and absolute lifetimes expire a family', async () => {
    const refresh = new RefreshTokens(conn, {
      namespace: 'rt2',
      reuseInterval: '10s',
      ttl: 900,
      idleTimeout: 400,
    })
    const a = await refresh.issue({ tenant: 't1', userId: 'u' })
    const b = await refresh.rotate(a.token)
    const retry = await refresh.rotate(a.token) // lost response: the client retries within the interval
    expect(retry.expiresAt).toBeLessThanOrEqual(a.expiresAt + 900)
    expect(await codeOf(refresh.rotate(b.token))).toBe('E_TOKEN_REUSED') // retry superseded b, then b is reused
    const c = await refresh.issue({ tenant: 't1', userId: 'u' })
    await sleep(500)
    expect(await codeOf(refresh.rotate(c.token))).toBe('E_TOKEN_INVALID') // idle
    let d = await refresh.issue({ tenant: 't1', userId: 'u' })
    for (let i = 0; i < 3; i++) {
      await sleep(250)
      d = await refresh.rotate(d.token)
    }
    await sleep(300)
    expect(await codeOf(refresh.rotate(d.token))).toBe('E_TOKEN_INVALID') // absolute 900ms
  })

  it('bad input', async () => {
    const refresh = new RefreshTokens(conn)
    expect(await codeOf(refresh.rotate('nope'))).toBe('E_TOKEN_INVALID')
    expect(await codeOf(refresh.issue({ tenant: 'a b', userId: 'u' }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(refresh.revoke('x'))).toBe('E_TOKEN_INVALID')
    expect(await codeOf(refresh.rotate(42 as never))).toBe('E_TOKEN_INVALID')
    const { familyId, token } = await refresh.issue({ tenant: 't', userId: 'u' })
    expect(await refresh.revoke(familyId)).toBe(true)
    expect(await codeOf(refresh.rotate(token))).toBe('E_TOKEN_INVALID')
    expect(() => new RefreshTokens(conn, { ttl: -1 })).toThrow(/ttl/)
    await refresh[Symbol.asyncDispose]()
  })
})

describe.each(['standalone', 'cluster'] as const)('OneTimeCodes on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await sharedConnection(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('single use, resend throttle, lock after maxAttempts', async () => {
    const otp = new OneTimeCodes(conn, {
      maxAttempts: 3,
      resendInterval: '1m',
      digits: 8,
      hashKey: 'k'.repeat(32),
    })
    const code = await otp.issue('login:a')
    expect(code).toMatch(/^\d{8}$/)
    expect(await codeOf(otp.issue('login:a'))).toBe('E_OTP_THROTTLED')
    expect(await otp.verify('login:a', '00000000x')).toBe(false)
    expect(await otp.verify('login:a', code)).toBe(true)
    expect(await otp.verify('login:a', code)).toBe(false) // single use
    const other = new OneTimeCodes(conn, { maxAttempts: 3, resendInterval: 0, hashKey: 'k'.repeat(32) })
    const c2 = await other.issue('login:b')
    expect(await other.verify('login:b', 'x1')).toBe(false)
    expect(await other.verify('login:b', 'x2')).toBe(false)
    expect(await codeOf(other.verify('login:b', 'x3'))).toBe('E_OTP_LOCKED')
    expect(await codeOf(other.verify('login:b', c2))).toBe('E_OTP_LOCKED') // the right code no longer helps
    expect(await codeOf(other.issue('login:b'))).toBe('E_OTP_LOCKED')
  })

  it('expires', async () => {
    const otp = new OneTimeCodes(conn, { ttl: 1000, resendInterval: 0 })
    const code = await otp.issue('exp')
    await sleep(1100)
    expect(await otp.verify('exp', code)).toBe(false)
  })

  it('bad input', async () => {
    const otp = new OneTimeCodes(conn)
    expect(await codeOf(otp.issue(''))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(otp.verify('s', 5 as never))).toBe('E_INVALID_ARGUMENT')
    expect(() => new OneTimeCodes(conn, { digits: 2 })).toThrow(/digits/)
    await otp[Symbol.asyncDispose]()
  })
})

describe('across processes (standalone)', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await sharedConnection('standalone')
  })
  afterAll(async () => {
    await conn.close()
  })

  it('refresh reuse race between two processes: exactly one rotation succeeds', async () => {
    const { token } = await new RefreshTokens(conn).issue({ tenant: 't', userId: 'u' })
    const url = inject('redis').standalone.url
    const ns = conn.config.namespace
    const both = Promise.all([run([url, ns, 'rotate', token, '1']), run([url, ns, 'rotate', token, '1'])])
    const go = conn.keys.key('go')
    await sleep(1500) // both children connected and blocked on the go list
    await conn.send(['RPUSH', go, '1', '1'], { key: go })
    const [a, b] = await both
    expect([...a!, ...b!].sort()).toEqual(['E_TOKEN_REUSED', 'ok'])
  })

  it('OTP brute force: attempts are counted across processes', async () => {
    const otp = new OneTimeCodes(conn, {
      maxAttempts: 5,
      resendInterval: 0,
      hashKey: 'shared-test-key-0123456789',
    })
    const code = await otp.issue('brute')
    const url = inject('redis').standalone.url
    const ns = conn.config.namespace
    const [a, b] = await Promise.all([
      run([url, ns, 'otp', 'brute', '4']),
      run([url, ns, 'otp', 'brute', '4']),
    ])
    const all = [...a!, ...b!]
    expect(all.filter((r) => r === 'false')).toHaveLength(4)
    expect(all.filter((r) => r === 'E_OTP_LOCKED')).toHaveLength(4)
    expect(await codeOf(otp.verify('brute', code))).toBe('E_OTP_LOCKED')
  })
})
