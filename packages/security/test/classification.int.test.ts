import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { createCodec, RedisCache } from '@cache/core'
import { codeOf, codeOfSync, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { AuditLog, auditedCache, cacheAudit, encryptionCodec, Keyring } from '../src/index.js'

const { standalone } = inject('redis')
let conn: Connection
const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
const codec = encryptionCodec(keyring)

beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('class') })
})
afterAll(async () => {
  await conn.close()
})

describe('data classification', () => {
  it('a confidential or restricted RedisCache refuses a codec without encryption (E_UNENCRYPTED)', async () => {
    for (const classification of ['confidential', 'restricted'] as const) {
      expect(codeOfSync(() => new RedisCache(conn, { namespace: 'pii', classification }))).toBe(
        'E_UNENCRYPTED',
      )
      expect(
        codeOfSync(() => new RedisCache(conn, { namespace: 'pii', classification, codec: createCodec() })),
      ).toBe('E_UNENCRYPTED')
    }
    const ok = new RedisCache(conn, { namespace: 'pii', classification: 'restricted', codec })
    await ok.set('a', 1)
    expect(await ok.get('a')).toBe(1)
    await ok.close()
  })

  it('auditedCache records every write of a restricted cache with the subject hashed, never keys or values', async () => {
    const audit = new AuditLog(conn, { keyring, namespace: uniquePrefix('audit') })
    const inner = new RedisCache<unknown>(conn, { namespace: 'pii', classification: 'restricted', codec })
    const cache = auditedCache(inner, {
      audit,
      codec,
      classification: 'restricted',
      namespace: 'pii',
      actor: 'profile-service',
      subjectOf: (key) => key.split(':').slice(0, 2).join(':'),
    })
    await cache.set('user:42:card', '4111-1111-1111-1111')
    expect(await cache.get('user:42:card')).toBe('4111-1111-1111-1111') // reads are not audited
    await cache.mset([
      { key: 'user:42:a', value: 1 },
      { key: 'user:43:a', value: 2 },
    ])
    await cache.delete('user:42:card')
    await cache.invalidateTags(['x'])
    const all = []
    for await (const e of audit.query()) all.push(e)
    expect(all.map((e) => e.action)).toEqual([
      'cache.set',
      'cache.mset',
      'cache.mset',
      'cache.delete',
      'cache.invalidateTags',
    ])
    expect(all.every((e) => e.actor === 'profile-service' && e.outcome === 'ok')).toBe(true)
    const of42 = []
    for await (const e of audit.query({ subject: 'user:42' })) of42.push(e)
    expect(of42.map((e) => e.action)).toEqual(['cache.set', 'cache.mset', 'cache.delete'])
    expect(JSON.stringify(all)).not.toMatch(/4111|user:42/)
    expect((await audit.verify()).ok).toBe(true)
    expect(
      codeOfSync(() =>
        auditedCache(new RedisCache(conn, { namespace: 'plain' }), {
          audit,
          codec: createCodec(),
          classification: 'confidential',
          namespace: 'plain',
          actor: 'a',
        }),
      ),
    ).toBe('E_UNENCRYPTED')
    expect(await codeOf(Promise.resolve().then(() => auditedCache(inner, {} as never)))).toBe(
      'E_INVALID_ARGUMENT',
    )
    await inner.close()
  })

  it('cacheAudit records a reported write per subject with its outcome, never the keys', async () => {
    const audit = new AuditLog(conn, { keyring, namespace: uniquePrefix('audit') })
    const writes = cacheAudit(audit, { actor: 'svc', subjectOf: (k) => k.split(':').slice(0, 2).join(':') })
    const event = { namespace: 'pii', classification: 'restricted' as const }
    await writes.write({ ...event, op: 'mdelete', keys: ['user:7:a', 'user:7:b', 'user:8:a'], outcome: 'ok' })
    await writes.write({ ...event, op: 'clear', keys: [], outcome: 'error' })
    const all = []
    for await (const e of audit.query()) all.push(e)
    expect(all.map((e) => [e.action, e.outcome, e.details])).toEqual([
      ['cache.mdelete', 'ok', { namespace: 'pii', classification: 'restricted', keyCount: 3 }],
      ['cache.mdelete', 'ok', { namespace: 'pii', classification: 'restricted', keyCount: 3 }],
      ['cache.clear', 'error', { namespace: 'pii', classification: 'restricted', keyCount: 0 }],
    ])
    const of7 = []
    for await (const e of audit.query({ subject: 'user:7' })) of7.push(e)
    expect(of7).toHaveLength(1)
    expect(JSON.stringify(all)).not.toMatch(/user:[78]/)
    expect(codeOfSync(() => cacheAudit(audit, { actor: '' }))).toBe('E_INVALID_ARGUMENT')
    expect(codeOfSync(() => cacheAudit({} as never, { actor: 'svc' }))).toBe('E_INVALID_ARGUMENT')
  })
})
