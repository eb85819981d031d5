import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { EventStream, PubSub } from '@cache/events'
import { LeaderElection, LockManager, ReadWriteLock, Semaphore } from '@cache/locks'
import { defineQueue } from '@cache/queue'
import { ConcurrencyLimiter, RateLimiter } from '@cache/ratelimit'
import { OneTimeCodes, RefreshTokens, SessionManager } from '@cache/session'
import { TieredCache } from '@cache/tiered'
import { codeOf, type StandaloneTopology, serverVersion, startStandalone } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { AuditLog, generateAcl, Keyring, verifyAcl } from '../src/index.js'

const ADMIN_PASSWORD = randomBytes(16).toString('hex')
const APP_PASSWORD = randomBytes(16).toString('hex')
const NS = 'app'
const redisVersion = serverVersion()
const acl = generateAcl({ user: 'app', password: APP_PASSWORD, namespaces: [NS], redisVersion })
// The hand-written rule docs/deploy/users.acl had before it was generated.
const LEGACY =
  'on >legacy-password ~cache:* &cache:* +@all -@admin -@dangerous +info +client|setname +cluster|shards +cluster|slots +readonly +script|load +script|exists'

let server: StandaloneTopology
let admin: Connection
let app: Connection
const closers: Array<{ close(): Promise<unknown> }> = []

async function aclLog(): Promise<Array<Record<string, unknown>>> {
  const raw = (await admin.send<unknown[]>(['ACL', 'LOG'])) ?? []
  return raw.map((e) => {
    if (!Array.isArray(e)) return e as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (let i = 0; i + 1 < e.length; i += 2) out[String(e[i])] = e[i + 1]
    return out
  })
}

beforeAll(async () => {
  server = await startStandalone()
  await server.master.command(['ACL', 'SETUSER', 'admin', 'on', `>${ADMIN_PASSWORD}`, '~*', '&*', '+@all'])
  await server.master.command(['ACL', 'SETUSER', acl.user, ...acl.args])
  await server.master.command(['ACL', 'SETUSER', 'legacy', ...LEGACY.split(' ')])
  await server.master.command(['AUTH', 'admin', ADMIN_PASSWORD])
  await server.master.command(['ACL', 'SETUSER', 'default', 'off'])
  const url = server.url
  admin = await connect({ url, username: 'admin', password: ADMIN_PASSWORD, namespace: NS })
  app = await connect({ url, username: 'app', password: APP_PASSWORD, namespace: NS })
  await admin.send(['ACL', 'LOG', 'RESET'])
})

afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {})
  await app?.close()
  await admin?.close()
  await server?.stop()
})

describe('generated ACL user on a server with "user default off"', () => {
  it('verifyAcl: the live user grants every probe of every package and refuses the forbidden ones', async () => {
    const report = await verifyAcl(admin, acl)
    expect(report.nodes[0]?.missing).toEqual([])
    expect(report.nodes[0]?.excess).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.nodes[0]?.checked).toBeGreaterThan(100)
  })

  it('verifyAcl finds what the old hand-written rule breaks (tracking coherence, consumer close)', async () => {
    const legacy = generateAcl({ user: 'legacy', namespaces: ['cache'], redisVersion })
    const report = await verifyAcl(admin, legacy)
    expect(report.ok).toBe(false)
    const missing = report.nodes[0]!.missing.map((m) => m.command)
    expect(missing).toContain('SUBSCRIBE __redis__:invalidate') // tracking invalidations never arrive
    expect(missing).toContain('CLIENT UNBLOCK 1')
    expect(missing.some((c) => c.startsWith('BZPOPMIN'))).toBe(true) // @cache/queue's blocking moves
    await expect(
      verifyAcl(admin, generateAcl({ user: 'nobody', namespaces: ['x'], redisVersion })),
    ).rejects.toMatchObject({
      code: 'E_COMMAND',
    })
  })

  it('runs every package as the generated user, with nothing denied in ACL LOG', async () => {
    // @cache/core: get/set, tags, getOrSet (lease + notification channel), dependants, patterns.
    const cache = new RedisCache<unknown>(app, { namespace: 'users', defaultTtl: '1m' })
    closers.push(cache)
    await cache.set('a', { n: 1 }, { tags: ['t'] })
    expect(await cache.get('a')).toEqual({ n: 1 })
    expect(await cache.getOrSet('b', async () => 2, { tags: ['t'] })).toBe(2)
    expect(await cache.mget(['a', 'b', 'c'])).toEqual([{ n: 1 }, 2, undefined])
    await cache.set('d', 4, { dependsOn: ['a'], keepVersions: 2 })
    await cache.invalidate('a')
    expect(await cache.get('d')).toBeUndefined()
    await cache.invalidateTags(['t'])
    expect(await cache.get('b')).toBeUndefined()
    await cache.set('p:1', 1)
    await cache.deletePattern('p:*')

    // @cache/tiered: tracking coherence (CLIENT TRACKING, __redis__:invalidate) and the bus.
    for (const coherence of ['tracking', 'bus'] as const) {
      const namespace = `tier-${coherence}`
      const one = new TieredCache<number>(app, { namespace, coherence })
      const two = new TieredCache<number>(app, { namespace, coherence })
      closers.push(one, two)
      await Promise.all([one.ready, two.ready])
      await one.set('k', 1, { ttl: '1m' })
      expect(await two.get('k')).toBe(1)
      await one.set('k', 2, { ttl: '1m' })
      await expect.poll(() => two.get('k'), { timeout: 5000 }).toBe(2)
    }

    // @cache/locks: mutex, semaphore, read-write lock, leader election.
    const locks = new LockManager(app)
    closers.push(locks)
    // A contended mutex: the waiter is woken by the release's PUBLISH on the resource channel.
    const held = await locks.acquire('invoice', { ttl: '5s' })
    const waiter = locks.acquire('invoice', { ttl: '5s', waitTimeout: '3s' })
    setTimeout(() => void held.release(), 100)
    await (await waiter).release()
    expect(await locks.using('invoice', { ttl: '5s' }, async (lock) => lock.token)).toBeGreaterThan(0)
    const once = await locks.tryAcquire('nightly', { ttl: '1s' })
    expect(once).not.toBeNull()
    await once?.release()
    const sem = new Semaphore(app, 'renderers', { limit: 2 })
    expect(await sem.using({ ttl: '5s' }, async () => 'rendered')).toBe('rendered')
    const rw = new ReadWriteLock(app, 'catalog')
    expect(await rw.withRead({ ttl: '5s' }, async () => 'read')).toBe('read')
    expect(await rw.withWrite({ ttl: '5s' }, async () => 'written')).toBe('written')
    const election = new LeaderElection(app, 'scheduler', { ttl: '2s' })
    const elected = new Promise((resolve) => election.on('elected', resolve))
    await election.start()
    await elected
    await election.close()

    // @cache/ratelimit: GCRA, concurrency leases, blocks.
    const limiter = new RateLimiter(app, { algorithm: 'gcra', limit: 10, window: '1m', burst: 2 })
    expect((await limiter.consume('u')).allowed).toBe(true)
    const inflight = new ConcurrencyLimiter(app, { limit: 1, lease: '5s' })
    expect(await inflight.run('u', async () => 'ok')).toBe('ok')
    await limiter.block('bad', '1m')
    expect((await limiter.consume('bad')).allowed).toBe(false)

    // @cache/events: pub/sub and a stream consumer closed while blocked in XREADGROUP (CLIENT UNBLOCK).
    const bus = new PubSub(app, { schemas: { hello: z.object({ n: z.number() }) } })
    const heard = new Promise<number>((resolve) => {
      void bus
        .subscribe('hello', (m) => resolve(m.n))
        .then((sub) => closers.push({ close: () => sub.unsubscribe() }))
    })
    await expect
      .poll(async () => {
        await bus.publish('hello', { n: 7 })
        return Promise.race([heard, new Promise((r) => setTimeout(() => r(undefined), 100))])
      })
      .toBe(7)
    const orders = new EventStream(app, 'orders', { schema: z.object({ id: z.string() }), maxLen: 100 })
    const got = new Promise<string>((resolve) => {
      const consumer = orders.consume({ group: 'billing', blockMs: '10s' }, async (o) => resolve(o.id))
      closers.push(consumer)
    })
    await orders.append({ id: 'o-1' })
    expect(await got).toBe('o-1')
    const idle = orders.consume({ group: 'idle', blockMs: '10s' }, async () => {})
    await new Promise((r) => setTimeout(r, 200))
    const t0 = Date.now()
    await idle.close() // unblocks its XREADGROUP with CLIENT UNBLOCK
    expect(Date.now() - t0).toBeLessThan(5000)

    // @cache/session: sessions, refresh tokens, one-time codes.
    const sessions = new SessionManager(app, { idleTimeout: '30m', absoluteTimeout: '12h', maxPerUser: 5 })
    const s = await sessions.create({ tenant: 't1', userId: 'u42', data: { cart: [] } })
    await sessions.update(s.id, (d) => ({ ...d, cart: [1] }), { tenant: 't1' })
    expect((await sessions.get(s.id, { tenant: 't1', touch: true }))?.data).toEqual({ cart: [1] })
    expect(await sessions.listByUser('t1', 'u42')).toHaveLength(1)
    await sessions.stats('t1')
    expect(await sessions.revokeUser('t1', 'u42')).toBe(1)
    const refresh = new RefreshTokens(app, { ttl: '1d', idleTimeout: '1h' })
    const first = await refresh.issue({ tenant: 't1', userId: 'u42' })
    await refresh.rotate(first.token)
    const otp = new OneTimeCodes(app, { ttl: '5m', maxAttempts: 3, hashKey: 'a-secret-of-16-chars-or-more' })
    const code = await otp.issue('login:u42')
    expect(await otp.verify('login:u42', code)).toBe(true)

    // @cache/queue: a BullMQ producer and worker.
    const emails = defineQueue(app, 'emails', { jobs: { welcome: z.object({ to: z.string() }) } })
    closers.push(emails)
    const sent = new Promise<string>((resolve) => {
      emails.process({ welcome: async (job) => resolve(job.data.to) })
    })
    await emails.add('welcome', { to: 'a@example.com' })
    expect(await sent).toBe('a@example.com')

    // @cache/security: the audit log.
    const keyring = new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] })
    const audit = new AuditLog(app, { keyring })
    await audit.record({ actor: 'admin', action: 'session.revoke', subject: 'user:42' })
    expect((await audit.verify()).ok).toBe(true)
    await audit.trim()

    // @cache/queue's start-up check asks CONFIG GET maxmemory-policy and tolerates the refusal (a warning):
    // CONFIG stays an operator command.
    expect((await aclLog()).filter((e) => e.object !== 'config|get')).toEqual([])
  })

  it('refuses commands outside the grant with NOPERM, as the client typed error E_COMMAND', async () => {
    await admin.send(['ACL', 'LOG', 'RESET'])
    for (const args of [
      ['FLUSHALL'],
      ['CONFIG', 'GET', 'maxmemory'],
      ['KEYS', '*'],
      ['DEBUG', 'SLEEP', '0'],
      ['GET', 'other:secret'],
    ]) {
      const err = await app.send(args).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      )
      expect(err?.code, args.join(' ')).toBe('E_COMMAND')
      expect(err?.message).toMatch(/NOPERM/)
    }
    // Another connection namespace is refused as a whole.
    const other = await connect({
      url: server.url,
      username: 'app',
      password: APP_PASSWORD,
      namespace: 'other',
    })
    closers.push(other)
    const foreign = new RedisCache(other, { namespace: 'x' })
    expect(await codeOf(foreign.set('k', 1))).toBe('E_COMMAND')
    const log = await aclLog()
    expect(log.map((e) => e.reason)).toEqual(expect.arrayContaining(['command', 'key']))
  })

  it('every user line of the generated users.acl is accepted by the server', async () => {
    const file = generateAcl({ user: 'fileuser', namespaces: ['cache'], readOnly: true, redisVersion }).file
    const line = file.split('\n').find((l) => l.startsWith('user fileuser '))!
    const words = line.split(' ').slice(2)
    expect(await admin.send(['ACL', 'SETUSER', 'fileuser', ...words])).toBe('OK')
    const report = await verifyAcl(
      admin,
      generateAcl({ user: 'fileuser', namespaces: ['cache'], readOnly: true, redisVersion }),
    )
    expect(report.ok).toBe(true)
    expect(await admin.send(['ACL', 'DRYRUN', 'fileuser', 'SET', 'cache:x', 'v'])).toMatch(/no permissions/)
  })
})
