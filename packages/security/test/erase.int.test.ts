import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { SessionManager } from '@cache/session'
import { codeOf, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { AuditLog, encryptionCodec, eraseChannel, eraseSubject, Keyring, SubjectIndex } from '../src/index.js'

const { standalone, cluster } = inject('redis')
const conns: Connection[] = []
const closers: Array<{ close(): Promise<unknown> }> = []
const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })

beforeAll(async () => {
  conns.push(
    await connect({ url: standalone.url, namespace: uniquePrefix('erase') }),
    await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('erase') }),
  )
})
afterAll(async () => {
  for (const c of closers) await c.close().catch(() => {})
  await Promise.all(conns.map((c) => c.close()))
})

async function exists(conn: Connection, key: string): Promise<boolean> {
  return Number(await conn.send(['EXISTS', key], { key })) === 1
}

describe.each(['standalone', 'cluster'])('eraseSubject on %s', (topology) => {
  const conn = () => conns[topology === 'standalone' ? 0 : 1]!

  it('deletes indexed keys in every slot, cache entries and sessions, purges the index, audits the counts', async () => {
    const subjects = new SubjectIndex(conn(), { keyring })
    const profiles = new RedisCache(conn(), { namespace: 'profiles' })
    const orders = new RedisCache(conn(), { namespace: 'orders' })
    const sessions = new SessionManager(conn(), { idleTimeout: '30m', absoluteTimeout: '1h' })
    const audit = new AuditLog(conn(), { keyring, namespace: uniquePrefix('audit') })
    closers.push(profiles, orders)
    // 20 keys spread over many slots, registered in the index as they are written.
    const keys = Array.from({ length: 20 }, (_, i) => `user:42:item:${i}`)
    for (const k of keys) await profiles.set(k, { k })
    await subjects.add(
      'user:42',
      keys.map((k) => profiles.redisKey(k)),
    )
    await profiles.set('user:7:item:0', 'someone else')
    await subjects.add('user:7', [profiles.redisKey('user:7:item:0')])
    await profiles.set('user:42:extra', 'not indexed')
    await orders.set('user:42:o1', 1)
    await orders.set('user:42:o2', 2)
    await orders.set('user:43:o1', 3)
    await sessions.create({ tenant: 't', userId: 'u42' })
    await sessions.create({ tenant: 't', userId: 'u42' })
    expect(await subjects.keys('user:42')).toHaveLength(20)

    const events: unknown[] = []
    const listen = (m: unknown) => events.push(m)
    eraseChannel.subscribe(listen)
    const report = await eraseSubject(conn(), 'user:42', {
      indexes: [subjects],
      caches: [
        { cache: orders, patterns: ['user:42:*'] },
        { cache: profiles, keys: ['user:42:extra', 'user:42:never-written'] },
      ],
      sessions: [{ sessions, tenant: 't', userId: 'u42' }],
      audit,
      actor: 'dpo:1',
    })
    eraseChannel.unsubscribe(listen)
    expect(report).toMatchObject({ indexedKeys: 20, cacheEntries: 3, sessions: 2, shredded: 0 })
    expect(events).toEqual([{ indexedKeys: 20, cacheEntries: 3, sessions: 2, shredded: 0 }])
    expect(await profiles.get('user:42:extra')).toBeUndefined()
    for (const k of keys) expect(await profiles.get(k)).toBeUndefined()
    expect(await orders.get('user:43:o1')).toBe(3)
    expect(await profiles.get('user:7:item:0')).toBe('someone else')
    expect(await subjects.keys('user:42')).toEqual([])
    expect(await exists(conn(), subjects.setKey('user:42'))).toBe(false)
    expect(await sessions.listByUser('t', 'u42')).toEqual([])
    const entries = []
    for await (const e of audit.query({ subject: 'user:42' })) entries.push(e)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({
      actor: 'dpo:1',
      action: 'subject.erase',
      details: { indexedKeys: 20 },
    })
    expect(JSON.stringify(entries)).not.toContain('user:42') // stored as a keyed hash
    expect(await eraseSubject(conn(), 'nobody')).toEqual({
      indexedKeys: 0,
      cacheEntries: 0,
      sessions: 0,
      shredded: 0,
    })
    // A second run finds nothing left and says so.
    expect(await eraseSubject(conn(), 'user:42', { indexes: [subjects] })).toMatchObject({ indexedKeys: 0 })
  })

  it('crypto-shreds: a copied value (a backup) of an erased subject can never be decrypted again', async () => {
    const ns = uniquePrefix('subjects')
    const subjects = new SubjectIndex(conn(), { keyring, namespace: ns })
    const subjectKeyring = await subjects.keyringFor('user:42')
    expect(await subjects.keyringFor('user:42')).toBe(subjectKeyring)
    // Another process gets the same data key, unwrapped from Redis.
    const other = new SubjectIndex(conn(), { keyring, namespace: ns })
    expect((await other.keyringFor('user:42')).primaryId).toBe(subjectKeyring.primaryId)
    const namespace = uniquePrefix('pii')
    const cache = new RedisCache(conn(), { namespace, codec: encryptionCodec(subjectKeyring) })
    closers.push(cache)
    await cache.set('user:42:card', { card: '4111-1111' })
    expect(await cache.get('user:42:card')).toEqual({ card: '4111-1111' })
    const rk = cache.redisKey('user:42:card')
    const backup = (await conn().send<Buffer>(['GET', rk], { key: rk, buffers: true }))!
    await subjects.add('user:42', [rk])

    const report = await eraseSubject(conn(), 'user:42', { indexes: [subjects] })
    expect(report).toMatchObject({ indexedKeys: 1, shredded: 1 })
    expect(await exists(conn(), subjects.dataKeyKey('user:42'))).toBe(false)

    // The backup is restored: with the subject's key destroyed, it is unreadable — by a process that
    // looks the key up again (a fresh key with a new id), or with the index's keyring alone.
    await conn().send(['SET', rk, backup], { key: rk })
    other.forget('user:42')
    const fresh = await other.keyringFor('user:42')
    expect(fresh.primaryId).not.toBe(subjectKeyring.primaryId)
    const after = new RedisCache(conn(), { namespace, codec: encryptionCodec(fresh) })
    closers.push(after)
    expect(await codeOf(after.get('user:42:card'))).toBe('E_KEY_NOT_FOUND')
    expect(
      await codeOf(Promise.resolve().then(() => encryptionCodec(keyring).decode(backup, { key: rk }))),
    ).toBe('E_KEY_NOT_FOUND')
    expect(backup.toString('latin1')).not.toContain('4111')
  })

  it('remove() unregisters keys; concurrent first keyringFor calls agree on one data key', async () => {
    const ns = uniquePrefix('subjects')
    const a = new SubjectIndex(conn(), { keyring, namespace: ns })
    const b = new SubjectIndex(conn(), { keyring, namespace: ns, hashKeyId: 'k1' })
    expect(String(a)).toBe(`SubjectIndex(${ns})`)
    await a.add('user:9', ['x:1', 'x:2', 'x:3'])
    await b.remove('user:9', ['x:2'])
    expect((await a.keys('user:9')).sort()).toEqual(['x:1', 'x:3'])
    const [ka, kb] = await Promise.all([a.keyringFor('user:9'), b.keyringFor('user:9')])
    expect(ka.primaryId).toBe(kb.primaryId)
    const bytes = encryptionCodec(ka).encode('v', { key: 'x:1' })
    expect(encryptionCodec(kb).decode(bytes, { key: 'x:1' })).toBe('v')
    expect(await a.purge('user:9')).toBe(2)
  })

  it('refuses bad arguments with typed errors', async () => {
    const subjects = new SubjectIndex(conn(), { keyring })
    expect(await codeOf(eraseSubject(conn(), '', { indexes: [subjects] }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(eraseSubject(conn(), 'u', { indexes: [{}] as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(subjects.add('u', ['']))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(subjects.keys(42 as never))).toBe('E_INVALID_ARGUMENT')
    expect(await codeOf(Promise.resolve().then(() => new SubjectIndex(conn(), {} as never)))).toBe(
      'E_INVALID_OPTION',
    )
  })
})
