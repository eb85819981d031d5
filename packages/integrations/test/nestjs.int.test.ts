import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { Controller, Get, Module } from '@nestjs/common'
import { APP_GUARD, NestFactory } from '@nestjs/core'
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { RateLimitThrottlerStorage } from '../src/nestjs.js'

const { standalone } = inject('redis')

let conn: Connection
beforeAll(async () => {
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-nest') })
})
afterAll(async () => {
  await conn?.close()
})

/** A Nest app with one throttled route; decorators applied as functions (no decorator syntax needed). */
async function nestApp(storage: RateLimitThrottlerStorage) {
  class HelloController {
    hello() {
      return 'hello'
    }
  }
  Controller()(HelloController)
  Get('hello')(
    HelloController.prototype,
    'hello',
    Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello')!,
  )
  class AppModule {}
  Module({
    imports: [ThrottlerModule.forRoot({ throttlers: [{ name: 'short', ttl: 60_000, limit: 3 }], storage })],
    controllers: [HelloController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  })(AppModule)
  const app = await NestFactory.create(AppModule, { logger: false })
  await app.listen(0, '127.0.0.1')
  const { port } = app.getHttpServer().address() as AddressInfo
  return { app, base: `http://127.0.0.1:${port}` }
}

describe('@nestjs/throttler with RateLimitThrottlerStorage in a real Nest app over HTTP', () => {
  it('limits exactly across two app instances sharing Redis, with the guard’s headers and Retry-After', async () => {
    const storages = [new RateLimitThrottlerStorage(conn), new RateLimitThrottlerStorage(conn)]
    const apps = await Promise.all(storages.map(nestApp))
    try {
      const replies = []
      for (let i = 0; i < 5; i++) replies.push(await fetch(`${apps[i % 2]!.base}/hello`))
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429, 429])
      expect(await replies[0]!.text()).toBe('hello')
      expect(replies.slice(0, 3).map((r) => r.headers.get('x-ratelimit-remaining-short'))).toEqual([
        '2',
        '1',
        '0',
      ])
      expect(Number(replies[3]!.headers.get('retry-after-short'))).toBeGreaterThanOrEqual(1)
    } finally {
      for (const { app } of apps) await app.close()
    }
  })

  it('refuses a bucket algorithm (the throttler contract counts hits in a window)', () => {
    expect(() => new RateLimitThrottlerStorage(conn, { algorithm: 'gcra' as never })).toThrow(/algorithm/)
  })
})
