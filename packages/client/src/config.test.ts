import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { configFromEnv, redactUrl, resolveConfig } from './config.js'
import { CacheError, InvalidOptionError, isCacheError } from './errors.js'

function invalid(fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (err) {
    expect(isCacheError(err, 'E_INVALID_OPTION')).toBe(true)
    return err as InvalidOptionError
  }
  throw new Error('expected E_INVALID_OPTION')
}

describe('resolveConfig', () => {
  it('defaults to a local standalone server', () => {
    const c = resolveConfig({})
    expect(c).toMatchObject({
      topology: 'standalone',
      host: '127.0.0.1',
      port: 6379,
      db: 0,
      namespace: 'cache',
      resp: 2,
    })
    expect(c.commandTimeoutMs).toBe(2000)
    expect(c.breaker).toEqual({ failureThreshold: 3, resetTimeoutMs: 1000 })
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('parses a URL with credentials, db and TLS', () => {
    const c = resolveConfig('rediss://alice:s%3Ecret@cache.example:6380/3')
    expect(c).toMatchObject({
      host: 'cache.example',
      port: 6380,
      db: 3,
      username: 'alice',
      password: 's>cret',
      tls: {},
    })
  })

  it('merges url with explicit options (explicit wins)', () => {
    const c = resolveConfig({ url: 'redis://h:1/2', db: 5, commandTimeout: '250ms' })
    expect(c).toMatchObject({ host: 'h', port: 1, db: 5, commandTimeoutMs: 250 })
  })

  it('resolves cluster and sentinel addresses', () => {
    const cluster = resolveConfig({ cluster: { nodes: ['10.0.0.1:7000', { host: 'h', port: 7001 }, 'h2'] } })
    expect(cluster.topology).toBe('cluster')
    expect(cluster.nodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'h', port: 7001 },
      { host: 'h2', port: 6379 },
    ])
    const sentinel = resolveConfig({
      sentinel: { name: 'mymaster', sentinels: ['s1', 's2:26380'] },
      replicaReads: true,
    })
    expect(sentinel.topology).toBe('sentinel')
    expect(sentinel.sentinel?.sentinels).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ])
    expect(sentinel.replicaReads).toBe(true)
  })

  it.each([
    [{ port: 70000 }, 'port'],
    [{ port: 'x' }, 'port'],
    [{ db: -1 }, 'db'],
    [{ cluster: { nodes: [] } }, 'cluster.nodes'],
    [{ cluster: { nodes: ['h:0'] } }, 'cluster.nodes.0'],
    [{ sentinel: { name: '', sentinels: ['s'] } }, 'sentinel.name'],
    [{ commandTimeout: '5 minutes' }, 'commandTimeout'],
    [{ breaker: { failureThreshold: 0 } }, 'breaker.failureThreshold'],
    [{ reconnect: { initialDelay: '1s', maxDelay: '10ms' } }, 'reconnect.maxDelay'],
    [{ namespace: 'a b' }, 'namespace'],
    [{ unknownThing: 1 }, 'unknownThing'],
    [{ cluster: { nodes: ['h:1'] }, sentinel: { name: 'm', sentinels: ['s'] } }, 'cluster'],
    [{ cluster: { nodes: ['h:1'] }, db: 2 }, 'db'],
    [{ replicaUrls: ['redis://r'], cluster: { nodes: ['h:1'] } }, 'replicaUrls'],
    [{ url: 'http://x' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'redis://h/abc' }, 'url.db'],
  ])('rejects %j naming %s', (input, field) => {
    const err = invalid(() => resolveConfig(input as never))
    expect(err.field).toBe(field)
    expect(err.message).toContain(`"${field}"`)
    expect(err.message.startsWith('[@cache/client] option')).toBe(true)
  })

  it('rejects a non-object, non-string argument', () => {
    expect(invalid(() => resolveConfig(42 as never)).field).toBe('(options)')
  })

  it('never prints a password', () => {
    for (const input of [{ url: 'ftp://user:hunter2@h' }, { url: '::hunter2::' }, { password: 12345678 }]) {
      const err = invalid(() => resolveConfig(input as never))
      expect(err.message).not.toContain('hunter2')
      expect(err.message).not.toContain('12345678')
    }
    expect(redactUrl('redis://u:hunter2@h:1')).toBe('redis://u:***@h:1')
  })
})

describe('configFromEnv', () => {
  it('reads REDIS_URL, credentials and namespace', () => {
    const c = resolveConfig(undefined, {
      REDIS_URL: 'redis://h:7/1',
      REDIS_USERNAME: 'u',
      REDIS_PASSWORD: 'p',
      REDIS_NAMESPACE: 'svc',
    })
    expect(c).toMatchObject({ host: 'h', port: 7, db: 1, username: 'u', password: 'p', namespace: 'svc' })
  })

  it('reads cluster and sentinel lists', () => {
    expect(resolveConfig(undefined, { REDIS_CLUSTER_NODES: 'a:1, b:2' }).nodes).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ])
    const s = resolveConfig(undefined, { REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm' })
    expect(s.sentinel?.name).toBe('m')
    expect(invalid(() => configFromEnv({ REDIS_SENTINELS: 'a:1' })).field).toBe('REDIS_SENTINEL_NAME')
    expect(invalid(() => configFromEnv({ REDIS_DB: 'x' })).field).toBe('REDIS_DB')
  })

  it('reads TLS settings from PEM text or files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'))
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nfile\n')
    const c = resolveConfig(undefined, {
      REDIS_TLS_CA: join(dir, 'ca.pem'),
      REDIS_TLS_CERT: '-----BEGIN CERTIFICATE-----\ninline\n',
      REDIS_TLS_SERVERNAME: 'redis.internal',
      REDIS_TLS_REJECT_UNAUTHORIZED: '0',
    })
    expect(c.tls).toEqual({
      ca: '-----BEGIN CERTIFICATE-----\nfile\n',
      cert: '-----BEGIN CERTIFICATE-----\ninline\n',
      servername: 'redis.internal',
      rejectUnauthorized: false,
    })
    expect(resolveConfig(undefined, { REDIS_TLS: 'true' }).tls).toEqual({})
    expect(resolveConfig(undefined, {}).tls).toBe(false)
  })
})

describe('CacheError', () => {
  it('carries a code, a name, details and a cause', () => {
    const cause = new Error('low level')
    const err = new CacheError('E_UNAVAILABLE', '[@cache/client] down', {
      cause,
      details: { retryAfterMs: 5 },
    })
    expect(err.name).toBe('CacheError')
    expect(err.code).toBe('E_UNAVAILABLE')
    expect(err.cause).toBe(cause)
    expect(err.details).toEqual({ retryAfterMs: 5 })
    expect(isCacheError(err)).toBe(true)
    expect(isCacheError(err, 'E_TIMEOUT')).toBe(false)
    expect(isCacheError(new Error('x'))).toBe(false)
    expect(isCacheError(null)).toBe(false)
    expect(new InvalidOptionError('@cache/x', 'f', 'bad').name).toBe('InvalidOptionError')
  })
})
