import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { EventStream, PubSub } from '@cache/events'
import { LockManager } from '@cache/locks'
import { RateLimiter } from '@cache/ratelimit'
import { respCommand, serverVersion, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { z } from 'zod'
import { generateAcl, verifyAcl } from '../src/index.js'

// The shared Cluster is not ours to lock down (`user default off` runs on an own server in
// acl.int.test.ts): here a uniquely named user is added on every node and removed afterwards.
const { cluster } = inject('redis')
const NS = uniquePrefix('aclc')
const USER = `acl-${randomBytes(4).toString('hex')}`
const PASSWORD = randomBytes(16).toString('hex')
const acl = generateAcl({
  user: USER,
  password: PASSWORD,
  namespaces: [NS],
  packages: ['core', 'locks', 'ratelimit', 'events'],
  redisVersion: serverVersion(),
})
let admin: Connection
let app: Connection
const closers: Array<{ close(): Promise<unknown> }> = []

beforeAll(async () => {
  for (const n of cluster.nodes)
    await respCommand(n.port, ['ACL', 'SETUSER', USER, ...acl.args], { host: n.host })
  admin = await connect({ cluster: { nodes: cluster.nodes }, namespace: NS })
  app = await connect({
    cluster: { nodes: cluster.nodes },
    namespace: NS,
    username: USER,
    password: PASSWORD,
  })
})
afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {})
  await app?.close()
  await admin?.close()
  for (const n of cluster.nodes)
    await respCommand(n.port, ['ACL', 'DELUSER', USER], { host: n.host }).catch(() => {})
})

describe('generated ACL user on Cluster', () => {
  it('verifyAcl passes on every master', async () => {
    const report = await verifyAcl(admin, acl)
    expect(report.nodes.length).toBeGreaterThanOrEqual(3)
    expect(report.nodes.flatMap((n) => [...n.missing, ...n.excess])).toEqual([])
    expect(report.ok).toBe(true)
  })

  it('core, locks (SPUBLISH wake-ups), ratelimit and events run as the user; other namespaces are refused', async () => {
    const cache = new RedisCache<number>(app, { namespace: 'c' })
    closers.push(cache)
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, i, { tags: ['t'] })
    expect(await cache.mget(['k1', 'k19'])).toEqual([1, 19])
    expect(await cache.getOrSet('g', async () => 7)).toBe(7)
    await cache.invalidateTags(['t'])
    expect(await cache.get('k1')).toBeUndefined()
    await cache.deletePattern('*')

    const locks = new LockManager(app)
    closers.push(locks)
    const held = await locks.acquire('r', { ttl: '5s' })
    const waiter = locks.acquire('r', { ttl: '5s', waitTimeout: '3s' })
    setTimeout(() => void held.release(), 100)
    await (await waiter).release()

    const limiter = new RateLimiter(app, { algorithm: 'sliding-window', limit: 2, window: '1m' })
    expect((await limiter.consume('u')).allowed).toBe(true)

    const bus = new PubSub(app, { schemas: { ping: z.object({ n: z.number() }) } })
    const heard = new Promise<number>((resolve) => {
      void bus
        .subscribe('ping', (m) => resolve(m.n))
        .then((s) => closers.push({ close: () => s.unsubscribe() }))
    })
    await expect
      .poll(async () => {
        await bus.publish('ping', { n: 1 })
        return Promise.race([heard, new Promise((r) => setTimeout(() => r(undefined), 100))])
      })
      .toBe(1)
    const stream = new EventStream(app, 'orders', { schema: z.object({ id: z.string() }) })
    const got = new Promise<string>((resolve) => {
      closers.push(stream.consume({ group: 'g', blockMs: '5s' }, async (e) => resolve(e.id)))
    })
    await stream.append({ id: 'o1' })
    expect(await got).toBe('o1')

    const err = await app.send(['GET', 'other:x'], { key: 'other:x' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'E_COMMAND', message: expect.stringMatching(/NOPERM/) })
    const flush = await app.send(['FLUSHALL']).catch((e: unknown) => e)
    expect(flush).toMatchObject({ code: 'E_COMMAND' })
  })
})
