import { randomBytes } from 'node:crypto'
import type { Connection } from '@cache/client'
import { encryptionCodec, KeyedHash, Keyring } from '@cache/security'
import { codeOfSync } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/express.js'
import { OneTimeCodes, RefreshTokens, SessionManager } from '../src/index.js'
import { codeOf, sharedConnection } from './helpers.js'

const key = () => randomBytes(32)
const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))

describe.each(['standalone', 'cluster', 'sentinel'] as const)('encryption and keyed hashes on %s', (kind) => {
  let conn: Connection
  let keyring: Keyring
  let sessions: SessionManager

  /** The stored value: a clear header line, then one line per chunk (each sealed on its own). */
  const raw = async (tenant: string, handle: string, namespace = 'sess') => {
    const k = `${conn.keys.prefix}${namespace}:t:${tenant}:{${handle}}`
    const lines = String(await conn.send<string>(['GET', k], { key: k })).split('\n')
    return { key: k, lines }
  }

  beforeAll(async () => {
    conn = await sharedConnection(kind)
    keyring = new Keyring({ keys: [{ id: 'k1', key: key(), status: 'primary' }] })
    sessions = new SessionManager(conn, { encryption: keyring, idleTimeout: '10m', absoluteTimeout: '1h' })
  })
  afterAll(async () => {
    await sessions.close()
    await conn.close()
  })

  it('data and meta are ciphertext at rest; reads, updates and the user index work as without', async () => {
    const s = await sessions.create({
      tenant: 't1',
      userId: 'alice',
      data: { email: 'alice@example.com', cart: [1, 2] },
      meta: { ip: '10.9.8.7' },
    })
    const { lines } = await raw('t1', s.handle)
    // One sealed chunk for the whole session (one cipher call per value, not per field).
    expect(lines).toHaveLength(2)
    const dump = lines.join('\n')
    expect(dump).not.toContain('alice@example.com')
    expect(dump).not.toContain('10.9.8.7')
    expect(dump).not.toContain('cart')
    expect(Buffer.from(lines[1]!, 'base64')[0]).toBe(0xce)
    expect(await sessions.get(s.id, { tenant: 't1' })).toMatchObject({
      data: { email: 'alice@example.com', cart: [1, 2] },
      meta: { ip: '10.9.8.7' },
    })
    const next = await sessions.update(s.id, (d) => ({ ...d, cart: [3] }), { tenant: 't1' })
    expect(next?.data).toEqual({ email: 'alice@example.com', cart: [3] })
    expect((await sessions.listByUser('t1', 'alice')).map((i) => i.meta)).toEqual([{ ip: '10.9.8.7' }])
  })

  it('ids are hashed with a key from the keyring: another keyring gives other handles', async () => {
    const s = await sessions.create({ tenant: 't1', userId: 'u-h' })
    const other = new SessionManager(conn, {
      encryption: new Keyring({ keys: [{ id: 'k1', key: key(), status: 'primary' }] }),
    })
    expect(other.handleOf(s.id)).not.toBe(s.handle)
    expect(await other.get(s.id, { tenant: 't1' })).toBeNull()
    const pinned = new KeyedHash(keyring, { keyId: 'k1', context: 'mine' })
    const withHash = new SessionManager(conn, { encryption: keyring, hashKey: pinned })
    expect(withHash.handleOf(s.id)).toBe(pinned.digest(s.id).toString('base64url'))
  })

  it('a chunk copied to another session, or under a changed header, is refused with E_DECRYPT, never read', async () => {
    const a = await sessions.create({ tenant: 't1', userId: 'u-c', data: { role: 'admin', x: 'y' } })
    const b = await sessions.create({ tenant: 't1', userId: 'u-c', data: { role: 'guest', x: 'z' } })
    const ra = await raw('t1', a.handle)
    const rb = await raw('t1', b.handle)
    // a's chunk appended to b (it would set role: admin there).
    await conn.send(['APPEND', rb.key, `\n${ra.lines[1]}`], { key: rb.key })
    expect(await codeOf(sessions.get(b.id, { tenant: 't1' }))).toBe('E_DECRYPT')
    // a's absolute deadline moved in its clear header: its chunks no longer open.
    const header = JSON.parse(ra.lines[0]!) as unknown[]
    header[3] = Number(header[3]) + 86_400_000
    await conn.send(['SET', ra.key, [JSON.stringify(header), ...ra.lines.slice(1)].join('\n'), 'KEEPTTL'], {
      key: ra.key,
    })
    expect(await codeOf(sessions.get(a.id, { tenant: 't1' }))).toBe('E_DECRYPT')
  })

  it('rotation: sessions written under the old key stay readable, new writes use the new primary', async () => {
    const ring = new Keyring({ keys: [{ id: 'old', key: key(), status: 'primary' }] })
    const pinned = new KeyedHash(ring, { keyId: 'old', context: 'ids' })
    const m1 = new SessionManager(conn, { namespace: 'rot', encryption: ring, hashKey: pinned })
    const s = await m1.create({ tenant: 't1', userId: 'u-r', data: { n: 1 } })
    ring.add({ id: 'new', key: key() }).promote('new')
    expect(await m1.get(s.id, { tenant: 't1' })).toMatchObject({ data: { n: 1 } })
    await m1.update(s.id, (d) => ({ ...d, m: 2 }), { tenant: 't1' })
    // update() rewrote the value (a compare-and-set): every chunk is sealed under the new primary.
    const { lines } = await raw('t1', s.handle, 'rot')
    const codec = encryptionCodec(ring)
    expect(lines.length).toBeGreaterThan(1)
    for (const line of lines.slice(1)) expect(codec.keyIdOf(Buffer.from(line, 'base64'))).toBe('new')
    expect(await m1.get(s.id, { tenant: 't1' })).toMatchObject({ data: { n: 1, m: 2 } })
    const unknown = new SessionManager(conn, {
      namespace: 'rot',
      encryption: new Keyring({ keys: [{ id: 'other', key: key(), status: 'primary' }] }),
      hashKey: pinned,
    })
    expect(await codeOf(unknown.get(s.id, { tenant: 't1' }))).toBe('E_KEY_NOT_FOUND')
  })

  it('a chunk already opened in this process is refused once its key is disabled (the opened-chunk cache)', async () => {
    const ring = new Keyring({ keys: [{ id: 'a', key: key(), status: 'primary' }] })
    const store = new SessionStore(conn, {
      namespace: 'dis',
      tenant: 'web',
      encryption: ring,
      hashKey: 'a-pinned-hash-key-of-16+',
      sweepInterval: false,
    })
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString(), path: '/' }
    await call((cb) => store.set('dis-sid', { cookie, secret: 's' } as never, cb))
    // Read twice: the second read is served from what the first one opened.
    await call((cb) => store.get('dis-sid', cb as never))
    expect(await call<Record<string, unknown>>((cb) => store.get('dis-sid', cb as never))).toMatchObject({
      secret: 's',
    })
    // Another instance has nothing cached: it decrypts (and authenticates) for real.
    expect((await store.sessions.get('dis-sid', { tenant: 'web' }))?.data).toMatchObject({ secret: 's' })
    ring.add({ id: 'b', key: key() }).promote('b').disable('a')
    expect(await codeOf(call((cb) => store.get('dis-sid', cb as never)))).toBe('E_KEY_DISABLED')
    await store.close()
  })

  it('the express-session store encrypts too, and merges fields as without', async () => {
    const store = new SessionStore(conn, { tenant: 'web', encryption: keyring })
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString(), path: '/' }
    await call((cb) => store.set('enc-sid', { cookie, secret: 'hunter2', a: 0 } as never, cb))
    const handle = store.sessions.handleOf('enc-sid')
    const { lines } = await raw('web', handle)
    expect(lines.join('\n')).not.toContain('hunter2')
    const x = await call<Record<string, unknown>>((cb) => store.get('enc-sid', cb as never))
    const y = await call<Record<string, unknown>>((cb) => store.get('enc-sid', cb as never))
    await call((cb) => store.set('enc-sid', { ...x, a: 1 } as never, cb))
    await call((cb) => store.set('enc-sid', { ...y, b: 2 } as never, cb))
    const z = await call<Record<string, unknown>>((cb) => store.get('enc-sid', cb as never))
    expect(z).toMatchObject({ secret: 'hunter2', a: 1, b: 2 })
    await store.close()
  })

  it('refresh tokens and one-time codes are stored as keyed hashes', async () => {
    const hashKey = new KeyedHash(keyring, { context: 'tokens' })
    const rt = new RefreshTokens(conn, { hashKey })
    const issued = await rt.issue({ tenant: 't1', userId: 'u-t' })
    const fk = `${conn.keys.prefix}rt:{${issued.familyId}}`
    const cur = String(await conn.send(['HGET', fk, 'cur'], { key: fk }))
    expect(cur).toBe(hashKey.digest(issued.token.split('.')[1]!).toString('base64url'))
    expect((await rt.rotate(issued.token)).familyId).toBe(issued.familyId)
    // A RefreshTokens with another key cannot rotate it (the hash differs): the family is treated as reused.
    const other = new RefreshTokens(conn, { hashKey: 'another-secret-0123456789' })
    const second = await rt.issue({ tenant: 't1', userId: 'u-t' })
    expect(await codeOf(other.rotate(second.token))).toBe('E_TOKEN_REUSED')

    const otp = new OneTimeCodes(conn, { hashKey, resendInterval: 0 })
    const code = await otp.issue('login:u-t')
    const ok = conn.keys.child('otp').tagged('login:u-t')
    expect(String(await conn.send(['HGET', ok, 'h'], { key: ok }))).toBe(
      hashKey.digest(`login:u-t\n${code}`).toString('base64url'),
    )
    expect(await otp.verify('login:u-t', code)).toBe(true)
  })

  it('bad encryption or hashKey options are typed errors naming the field', async () => {
    expect(codeOfSync(() => new SessionManager(conn, { encryption: {} as never }))).toBe('E_INVALID_OPTION')
    expect(() => new SessionManager(conn, { hashKey: 'short' })).toThrow(/hashKey/)
    expect(() => new SessionStore(conn, { encryption: 'k' as never })).toThrow(/encryption/)
    expect(() => new RefreshTokens(conn, { hashKey: 5 as never })).toThrow(/hashKey/)
  })
})
