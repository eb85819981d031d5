import { RedisNode } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, isCacheError } from '../src/index.js'

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; ms: number }> {
  const started = performance.now()
  try {
    await p
  } catch (err) {
    return {
      code: isCacheError(err) ? err.code : 'not-a-cache-error',
      message: String(err),
      ms: performance.now() - started,
    }
  }
  throw new Error('expected connect() to fail')
}

describe('ACL users and passwords', () => {
  let node: RedisNode
  beforeAll(async () => {
    node = await RedisNode.start({
      auth: { password: 'default-secret', users: [{ name: 'alice', password: 'wonderland' }] },
    })
  })
  afterAll(() => node.stop())

  it('connects with the default user password and with an ACL user', async () => {
    for (const creds of [{ password: 'default-secret' }, { username: 'alice', password: 'wonderland' }]) {
      const conn = await connect({ url: node.url, ...creds })
      expect(await conn.redis.ping()).toBe('PONG')
      await conn.close()
    }
    const viaUrl = await connect(`redis://alice:wonderland@127.0.0.1:${node.port}`)
    expect(await viaUrl.redis.ping()).toBe('PONG')
    await viaUrl.close()
  })

  it.each([
    ['a wrong password', { password: 'nope' }],
    ['a wrong user password', { username: 'alice', password: 'nope' }],
    ['an unknown user', { username: 'mallory', password: 'x' }],
    ['no password at all', {}],
  ])('fails fast with E_AUTH for %s, without echoing the password', async (_label, creds) => {
    const f = await failure(connect({ url: node.url, connectTimeout: '5s', ...creds }))
    expect(f.code).toBe('E_AUTH')
    expect(f.message).toMatch(/^CacheError: \[@cache\/client\] authentication failed: (WRONGPASS|NOAUTH)/)
    expect(f.message).not.toContain('nope')
    // Well before the 5 s connect timeout: the first rejected attempt ends it.
    expect(f.ms).toBeLessThan(2500)
  })
})

describe('TLS', () => {
  let node: RedisNode
  beforeAll(async () => {
    node = await RedisNode.start({ tls: true })
  })
  afterAll(() => node.stop())

  it('connects over rediss:// trusting the server CA, and with REDIS_TLS_CA from the environment', async () => {
    const conn = await connect({ url: `rediss://127.0.0.1:${node.port}`, tls: { ca: node.tlsCa } })
    expect(await conn.redis.ping()).toBe('PONG')
    expect((await conn.health()).ok).toBe(true)
    await conn.close()

    const saved = { ...process.env }
    process.env.REDIS_URL = `redis://localhost:${node.port}`
    process.env.REDIS_TLS = '1'
    process.env.REDIS_TLS_CA = node.tlsCa
    try {
      const byEnv = await connect()
      expect(await byEnv.redis.ping()).toBe('PONG')
      await byEnv.close()
    } finally {
      for (const k of ['REDIS_URL', 'REDIS_TLS', 'REDIS_TLS_CA']) {
        if (saved[k] === undefined) delete process.env[k]
        else process.env[k] = saved[k]
      }
    }
  })

  it('fails fast with E_TLS when the certificate is not trusted', async () => {
    const f = await failure(connect({ url: `rediss://127.0.0.1:${node.port}`, connectTimeout: '5s' }))
    expect(f.code).toBe('E_TLS')
    expect(f.message).toContain('TLS handshake failed')
    expect(f.ms).toBeLessThan(2500)
  })

  it('reports the last error when a plain client meets a TLS-only port', async () => {
    const f = await failure(connect({ url: `redis://127.0.0.1:${node.port}`, connectTimeout: '500ms' }))
    expect(f.code).toBe('E_UNAVAILABLE')
    expect(f.message).toMatch(/last error: .+/)
  })
})
