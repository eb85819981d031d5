import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventStream, PubSub } from '../src/index.js'
import { optionsFromConfig } from '../src/reader.js'
import { connectTo, until } from './helpers.js'

describe('on Sentinel', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connectTo('sentinel')
  })
  afterAll(async () => {
    await conn.close()
  })

  it('consumes a stream on a second Sentinel connection with the same settings, and closes promptly', async () => {
    const stream = new EventStream(conn, 'orders')
    await stream.appendMany([1, 2, 3])
    const seen: unknown[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 5000 }, (e) => void seen.push(e))
    await until('consumed', () => seen.length === 3)
    await stream.append(4)
    await until('woken', () => seen.length === 4)
    const t0 = Date.now()
    await consumer.close()
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(seen).toEqual([1, 2, 3, 4])
    expect((await stream.pending('g')).count).toBe(0)
  })

  it('publishes and subscribes', async () => {
    const bus = new PubSub(conn)
    const got: unknown[] = []
    await bus.subscribe('news.*', (m) => void got.push(m))
    await bus.publish('news.today', 'hello')
    await until('message', () => got.length === 1)
    expect(got).toEqual(['hello'])
    await bus.close()
  })

  it('copies every connection setting for the reader, secrets included but only in memory', () => {
    const options = optionsFromConfig({
      ...conn.config,
      username: 'u',
      password: 'p',
      sentinel: { name: 'm', sentinels: [{ host: 'h', port: 1 }], username: 'su', password: 'sp' },
    })
    expect(options).toMatchObject({
      namespace: conn.keys.namespace,
      username: 'u',
      password: 'p',
      breaker: false,
      sentinel: { name: 'm', username: 'su', password: 'sp' },
    })
  })
})
