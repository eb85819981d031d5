import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { generateAcl, verifyAcl } from '@cache/security'
import { type StandaloneTopology, serverVersion, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CircuitBreaker } from '../src/index.js'
import { withCache } from '../src/web.js'

// The user @cache/security generates for this package, on an own server with `user default off`.
const ADMIN_PASSWORD = randomBytes(16).toString('hex')
const APP_PASSWORD = randomBytes(16).toString('hex')
const acl = generateAcl({
  user: 'app',
  password: APP_PASSWORD,
  namespaces: ['app'],
  packages: ['integrations'],
  redisVersion: serverVersion(),
})

let server: StandaloneTopology
let admin: Connection
let app: Connection
const closers: Array<{ close(): Promise<unknown> }> = []

beforeAll(async () => {
  server = await startStandalone()
  await server.master.command(['ACL', 'SETUSER', 'admin', 'on', `>${ADMIN_PASSWORD}`, '~*', '&*', '+@all'])
  await server.master.command(['ACL', 'SETUSER', acl.user, ...acl.args])
  await server.master.command(['AUTH', 'admin', ADMIN_PASSWORD])
  await server.master.command(['ACL', 'SETUSER', 'default', 'off'])
  admin = await connect({ url: server.url, username: 'admin', password: ADMIN_PASSWORD, namespace: 'app' })
  app = await connect({ url: server.url, username: 'app', password: APP_PASSWORD, namespace: 'app' })
  await admin.send(['ACL', 'LOG', 'RESET'])
})
afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {})
  await app?.close()
  await admin?.close()
  await server?.stop()
})

describe('@cache/integrations as the generated ACL user', () => {
  it('verifyAcl grants every probe of the integrations profile (core included)', async () => {
    const report = await verifyAcl(admin, acl)
    expect(report.nodes[0]?.missing).toEqual([])
    expect(report.ok).toBe(true)
  })

  it('a shared breaker and a response cache run with nothing denied in ACL LOG', async () => {
    const options = { failureRate: 0.5, minimumCalls: 2, window: '10s', openFor: '1m', halfOpenProbes: 1 }
    const one = await new CircuitBreaker(app, 'payments', options).ready()
    const two = await new CircuitBreaker(app, 'payments', options).ready()
    closers.push(one, two)
    await one.execute(async () => 'ok')
    await one.execute(() => Promise.reject(new Error('down'))).catch(() => {})
    expect(one.state).toBe('open')
    // The other instance learns it from the breaker's channel.
    await waitFor('the second instance to see the breaker open', () => two.state === 'open')
    await two.reset()
    await waitFor('the first instance to see the reset', () => one.state === 'closed')
    expect(await one.execute(async () => 'after reset')).toBe('after reset')

    const cache = new RedisCache<unknown>(app, { namespace: 'pages' })
    closers.push(cache)
    let runs = 0
    const handler = withCache(
      async () => {
        runs++
        return new Response('page', { headers: { 'cache-control': 'max-age=60' } })
      },
      { cache, tags: ['pages'] },
    )
    expect(await (await handler(new Request('http://app.test/a'))).text()).toBe('page')
    const again = await handler(new Request('http://app.test/a'))
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(runs).toBe(1)
    await cache.invalidateTags(['pages'])

    expect(await admin.send(['ACL', 'LOG'])).toEqual([])
  })
})
