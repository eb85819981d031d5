import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { TieredCache } from '@cache/tiered'
import { codeOf, uniquePrefix, waitFor } from '@cache/tools'
import { CACHE_MANAGER, CacheInterceptor, CacheModule, CacheTTL } from '@nestjs/cache-manager'
import { Controller, Get, Inject, Module, Param, Post, UseInterceptors } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { type Cache as CacheManager, createCache } from 'cache-manager'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cacheManagerStore } from '../src/cache-manager.js'

const { standalone } = inject('redis')

let conn: Connection
const closers: Array<{ close(): Promise<unknown> }> = []
beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-cm') })
})
afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {})
  await conn?.close()
})

const tiered = (namespace: string) => {
  const cache = new TieredCache<unknown>(conn, { namespace })
  closers.push(cache)
  return cache
}

/** A Nest app whose CacheModule stores in `cache`; decorators applied as functions (no decorator syntax needed). */
async function nestApp(cache: TieredCache<unknown>, calls: { n: number }) {
  class UsersController {
    constructor(readonly manager: CacheManager) {}
    user(id: string) {
      calls.n++
      return { id, version: calls.n }
    }
    async rename(id: string) {
      await this.manager.del(`/users/${id}`)
      return { ok: true }
    }
  }
  Inject(CACHE_MANAGER)(UsersController, undefined, 0)
  Controller('users')(UsersController)
  const method = (name: 'user' | 'rename') =>
    [
      UsersController.prototype,
      name,
      Object.getOwnPropertyDescriptor(UsersController.prototype, name)!,
    ] as const
  for (const d of [Get(':id'), UseInterceptors(CacheInterceptor), CacheTTL(60_000)]) d(...method('user'))
  Post(':id/rename')(...method('rename'))
  Param('id')(UsersController.prototype, 'user', 0)
  Param('id')(UsersController.prototype, 'rename', 0)
  class AppModule {}
  Module({
    imports: [CacheModule.register({ stores: [cacheManagerStore(cache)] })],
    controllers: [UsersController],
  })(AppModule)
  const app = await NestFactory.create(AppModule, { logger: false })
  await app.listen(0, '127.0.0.1')
  const { port } = app.getHttpServer().address() as AddressInfo
  closers.push(app)
  return `http://127.0.0.1:${port}`
}

describe('cacheManagerStore as the CacheModule store of a real Nest app over HTTP', () => {
  it('two app instances share cached responses through the tiered cache; a del in one is seen by the other', async () => {
    const namespace = uniquePrefix('nest')
    const [cacheA, cacheB] = [tiered(namespace), tiered(namespace)]
    await Promise.all([cacheA.ready, cacheB.ready])
    const calls = { n: 0 }
    const [a, b] = [await nestApp(cacheA, calls), await nestApp(cacheB, calls)]

    const first = await fetch(`${a}/users/7`)
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ id: '7', version: 1 })
    // The interceptor stores after the response went out: wait for the entry, then read it from the other app.
    await waitFor('the cached response in Redis', () => cacheB.has('/users/7'))
    expect(await (await fetch(`${b}/users/7`)).json()).toEqual({ id: '7', version: 1 })
    expect(await (await fetch(`${a}/users/7`)).json()).toEqual({ id: '7', version: 1 })
    expect(calls.n).toBe(1)
    // CacheTTL(60_000) reached Redis as the entry's TTL.
    const ttl = (await cacheA.ttl('/users/7')) as number
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
    // The value is stored as it is (no JSON string), in Keyv's envelope, under cache-manager's key.
    expect(await cacheB.get('/users/7')).toMatchObject({ value: { id: '7', version: 1 } })

    expect(await (await fetch(`${b}/users/7/rename`, { method: 'POST' })).json()).toEqual({ ok: true })
    // Coherence drops app A's L1 copy: its next request runs the handler again.
    await waitFor('app A to see the deletion', async () => (await cacheA.get('/users/7')) === undefined)
    expect(await (await fetch(`${a}/users/7`)).json()).toEqual({ id: '7', version: 2 })
    expect(calls.n).toBe(2)
  })
})

describe('cacheManagerStore with cache-manager directly', () => {
  it('get/set/del/wrap/ttl go to the cache; clear() clears its namespace only', async () => {
    const mine = new RedisCache<unknown>(conn, { namespace: uniquePrefix('cm') })
    const other = new RedisCache<unknown>(conn, { namespace: uniquePrefix('cm-other') })
    closers.push(mine, other)
    const cm = createCache({ stores: [cacheManagerStore(mine, { ttl: '5m' })] })
    await other.set('k', 'stays')
    await cm.set('k', { at: new Date(0), n: 1 })
    expect(await cm.get('k')).toEqual({ at: new Date(0), n: 1 })
    expect(await mine.ttl('k')).toBeGreaterThan(290_000)
    await cm.set('short', 1, 2_000)
    expect(await mine.ttl('short')).toBeLessThanOrEqual(2_000)
    let loads = 0
    const load = async () => {
      loads++
      return 'loaded'
    }
    expect(await Promise.all([cm.wrap('w', load), cm.wrap('w', load)])).toEqual(['loaded', 'loaded'])
    expect(await cm.wrap('w', load)).toBe('loaded')
    expect(loads).toBe(1)
    expect(await cm.del('k')).toBe(true)
    expect(await cm.get('k')).toBeUndefined()
    await cm.clear()
    expect(await mine.get('w')).toBeUndefined()
    expect(await other.get('k')).toBe('stays')
  })

  it('refuses a non-cache and a bad ttl with typed errors', async () => {
    const run = (f: () => unknown) => codeOf(Promise.resolve().then(f))
    expect(await run(() => cacheManagerStore({} as never))).toBe('E_INVALID_ARGUMENT')
    const cache = new RedisCache<unknown>(conn, { namespace: uniquePrefix('cm-bad') })
    closers.push(cache)
    expect(await run(() => cacheManagerStore(cache, { ttl: 5 }))).toBe('E_INVALID_OPTION')
    expect(await run(() => cacheManagerStore(cache, null as never))).toBe('E_INVALID_OPTION')
  })
})
