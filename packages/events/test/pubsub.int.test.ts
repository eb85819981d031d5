import type { Connection } from '@cache/client'
import { isCacheError } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { InvalidPayloadError, type MessageMeta, PubSub } from '../src/index.js'
import { connectTo, type Kind, until } from './helpers.js'

/** A channel prefix of one test: a late message of an earlier test (pub/sub has no ordering across tests on a
 * cluster, where messages hop between nodes) never reaches a later test's bus. */
const ownPrefix = () => `${uniquePrefix('bus')}:`

const schemas = {
  invalidate: z.object({ key: z.string() }),
  'orders.created': z.object({ id: z.string(), total: z.number().nonnegative() }),
}

describe.each<Kind>(['standalone', 'cluster'])('PubSub on %s', (kind) => {
  let conn: Connection
  let raw: Connection
  beforeAll(async () => {
    conn = await connectTo(kind)
    raw = conn
  })
  afterAll(async () => {
    await conn.close()
  })

  it('delivers typed messages on a channel once the subscription resolves, with the source id', async () => {
    const bus = new PubSub(conn, { schemas, channelPrefix: ownPrefix() })
    const got: Array<{ key: string; meta: MessageMeta }> = []
    const sub = await bus.subscribe('invalidate', (msg, meta) => {
      got.push({ key: msg.key, meta })
    })
    // subscribe resolved after the server confirmed: the very next publish is received.
    expect(await bus.publish('invalidate', { key: 'user:1' })).toBeGreaterThanOrEqual(
      kind === 'cluster' ? 0 : 1,
    )
    await until('message', () => got.length === 1)
    expect(got[0]).toEqual({ key: 'user:1', meta: { channel: 'invalidate', source: bus.id } })
    await sub.unsubscribe()
    await sub.unsubscribe() // idempotent
    await bus.publish('invalidate', { key: 'user:2' })
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toHaveLength(1)
    await bus.close()
  })

  it('routes pattern subscriptions by concrete channel and applies filters', async () => {
    const bus = new PubSub(conn, { schemas, channelPrefix: ownPrefix() })
    const all: string[] = []
    const big: number[] = []
    await bus.subscribe('orders.*', (_msg, meta) => {
      all.push(`${meta.channel}|${meta.pattern}`)
    })
    await bus.subscribe('orders.created', (msg) => void big.push(msg.total), {
      filter: (msg) => msg.total >= 100,
    })
    await bus.publish('orders.created', { id: 'a', total: 5 })
    await bus.publish('orders.created', { id: 'b', total: 500 })
    await bus.publish('orders.shipped', { id: 'a' })
    await bus.publish('other', 1)
    await until('pattern messages', () => all.length === 3 && big.length === 1)
    expect(all.sort()).toEqual([
      'orders.created|orders.*',
      'orders.created|orders.*',
      'orders.shipped|orders.*',
    ])
    expect(big).toEqual([500])
    expect(bus.stats.filtered).toBe(1)
    // A literal channel containing glob characters, with pattern: false.
    const literal: unknown[] = []
    await bus.subscribe('weird*name', (m) => void literal.push(m), { pattern: false })
    await bus.publish('weird*name', 'x')
    await bus.publish('weirdXname', 'y')
    await until('literal', () => literal.length === 1)
    expect(literal).toEqual(['x'])
    await bus.close()
  })

  it('rejects invalid payloads on publish (typed error naming the channel) and drops them on receive', async () => {
    const bus = new PubSub(conn, { schemas, channelPrefix: ownPrefix() })
    const err = await bus.publish('orders.created', { id: 'x', total: -1 } as never).catch((e) => e)
    expect(err).toBeInstanceOf(InvalidPayloadError)
    expect(isCacheError(err, 'E_INVALID_PAYLOAD')).toBe(true)
    expect(err.target).toBe('orders.created')
    expect(err.issues.join()).toMatch(/total/)
    await expect(bus.publish('x', undefined)).rejects.toMatchObject({ code: 'E_INVALID_PAYLOAD' })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await expect(bus.publish('x', cyclic)).rejects.toMatchObject({ code: 'E_INVALID_PAYLOAD' })

    const received: unknown[] = []
    const invalid: Array<{ channel: string; error: InvalidPayloadError }> = []
    bus.on('invalid', (e) => invalid.push(e))
    await bus.subscribe('orders.created', (m) => void received.push(m))
    const server = `${bus.channelPrefix}orders.created`
    // Another publisher (another language, an old version) sends bad data straight to the channel. Pub/sub
    // is at-most-once (a loaded cluster bus may drop a message): each one is re-sent until it is seen.
    const bad = [
      '{"v":1,"data":{"id":"y","total":"lots"}}',
      'not json',
      '{"v":9,"data":1}',
      '[1]',
      '{"v":1}',
      '{"v":1,"src":5,"data":1}',
    ]
    for (const payload of bad) {
      const before = invalid.length
      await until(`invalid event for ${payload}`, async () => {
        if (invalid.length > before) return true
        await raw.send(['PUBLISH', server, payload], { key: server })
        await new Promise((r) => setTimeout(r, 50))
        return invalid.length > before
      })
    }
    await until('valid message', async () => {
      if (received.length > 0) return true
      await bus.publish('orders.created', { id: 'ok', total: 1 })
      await new Promise((r) => setTimeout(r, 50))
      return received.length > 0
    })
    expect(received[0]).toEqual({ id: 'ok', total: 1 })
    expect(received.every((m) => JSON.stringify(m) === '{"id":"ok","total":1}')).toBe(true)
    expect(invalid.length).toBeGreaterThanOrEqual(6)
    expect(invalid.every((e) => e.error.code === 'E_INVALID_PAYLOAD' && e.channel === 'orders.created')).toBe(
      true,
    )
    expect(bus.stats.invalid).toBe(invalid.length)
    await bus.close()
  })

  it('reports handler failures (sync and async) without stopping delivery', async () => {
    const bus = new PubSub(conn, { channelPrefix: ownPrefix() })
    const errors: unknown[] = []
    bus.on('error', (e) => errors.push(e))
    const ok: unknown[] = []
    await bus.subscribe('c', () => {
      throw new Error('sync boom')
    })
    await bus.subscribe('c', async () => {
      throw new Error('async boom')
    })
    await bus.subscribe('c', (m) => void ok.push(m))
    await bus.publish('c', 1)
    await bus.publish('c', 2)
    await until('deliveries', () => ok.length === 2 && errors.length === 4)
    expect(errors.every((e) => isCacheError(e, 'E_HANDLER'))).toBe(true)
    expect(bus.stats.handlerErrors).toBe(4)
    await bus.close()
  })

  it('keeps one server subscription per channel under concurrent subscribe/unsubscribe races', async () => {
    const bus = new PubSub(conn, { channelPrefix: ownPrefix() })
    const counts = new Map<number, number>()
    const subs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        bus.subscribe('race', () => void counts.set(i, (counts.get(i) ?? 0) + 1)),
      ),
    )
    // Unsubscribe all but the last while new subscriptions to the same channel arrive.
    const late: number[] = []
    await Promise.all([
      ...subs.slice(0, 19).map((s) => s.unsubscribe()),
      bus.subscribe('race', () => void late.push(1)),
      ...subs.slice(0, 19).map((s) => s.unsubscribe()),
    ])
    await subs[19]!.unsubscribe()
    await bus.publish('race', 'x')
    await until('late handler', () => late.length === 1)
    await new Promise((r) => setTimeout(r, 50))
    expect(late).toEqual([1])
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(0)
    await bus.close()
  })

  it('isolates buses of different namespaces and honours an explicit prefix', async () => {
    const other = await connectTo(kind)
    try {
      const a = new PubSub(conn)
      const b = new PubSub(other)
      const c = new PubSub(other, { channelPrefix: conn.keys.prefix, id: 'bus-c' })
      const gotA: unknown[] = []
      const gotB: unknown[] = []
      await a.subscribe('news', (m, meta) => void gotA.push([m, meta.source]))
      await b.subscribe('news', (m) => void gotB.push(m))
      await c.publish('news', 'from-c')
      await until('a hears c', () => gotA.length === 1)
      await new Promise((r) => setTimeout(r, 50))
      expect(gotA).toEqual([['from-c', 'bus-c']])
      expect(gotB).toEqual([])
      await Promise.all([a.close(), b.close(), c.close()])
    } finally {
      await other.close()
    }
  })

  it('validates options and arguments with typed errors naming the field', async () => {
    expect(() => new PubSub(conn, { schemas: { a: 'nope' as never } })).toThrow(/option "schemas.a"/)
    expect(() => new PubSub(conn, { sharded: 'yes' as never })).toThrow(/option "sharded"/)
    expect(() => new PubSub(conn, { id: '' })).toThrow(/option "id"/)
    expect(() => new PubSub(conn, { bogus: 1 } as never)).toThrow(/option "bogus" is not a known option/)
    const bus = new PubSub(conn)
    await expect(bus.subscribe('', () => {})).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await expect(bus.subscribe('a', 'x' as never)).rejects.toMatchObject({ details: { field: 'handler' } })
    await expect(bus.subscribe('a', () => {}, { filter: 1 as never })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'filter',
    })
    await expect(bus.publish('', 1)).rejects.toMatchObject({ details: { field: 'channel' } })
    await bus.close()
    await bus.close()
    await expect(bus.publish('a', 1)).rejects.toMatchObject({ code: 'E_CLOSED' })
    await expect(bus.subscribe('a', () => {})).rejects.toMatchObject({ code: 'E_CLOSED' })
  })

  it('sharded pub/sub (SPUBLISH/SSUBSCRIBE) delivers and refuses patterns', async () => {
    const bus = new PubSub(conn, { sharded: true, schemas, channelPrefix: ownPrefix() })
    const got: string[] = []
    await bus.subscribe('invalidate', (m) => void got.push(m.key))
    await bus.subscribe('invalidate:2', (m) => void got.push(String(m)))
    await bus.publish('invalidate', { key: 'k1' })
    await bus.publish('invalidate:2', 'k2')
    await until('sharded messages', () => got.length === 2)
    expect(got.sort()).toEqual(['k1', 'k2'])
    await expect(bus.subscribe('inv*', () => {})).rejects.toMatchObject({ code: 'E_UNSUPPORTED' })
    await bus.close()
  })
})
