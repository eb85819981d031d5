import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type Connection, connect, hgetallRecord, Lease, sleep } from '../src/index.js'

const { standalone } = inject('redis')

describe('hgetallRecord on a real server', () => {
  for (const resp of [2, 3] as const) {
    it(`normalises the RESP${resp} HGETALL reply`, async () => {
      const conn = await connect({ url: standalone.url, namespace: uniquePrefix('hgetall'), resp })
      try {
        const key = conn.keys.key('h')
        await conn.send(['HSET', key, 'a', '1', 'b', 'two'], { key })
        expect(hgetallRecord(await conn.send(['HGETALL', key], { key }))).toEqual({ a: '1', b: 'two' })
        const missing = conn.keys.key('none')
        expect(hgetallRecord(await conn.send(['HGETALL', missing], { key: missing }))).toEqual({})
      } finally {
        await conn.close()
      }
    })
  }
})

describe('Lease', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connect({ url: standalone.url, namespace: uniquePrefix('lease') })
  })
  afterAll(() => conn.close())

  it('one owner at a time; renew and release act only for the owner', async () => {
    const key = conn.keys.key('one')
    const a = new Lease(conn, key, { ttl: '10s' })
    const b = new Lease(conn, key, { ttl: 10_000 })
    expect(a.token).not.toBe(b.token)
    expect(await a.acquire()).toBe(true)
    expect(await b.acquire()).toBe(false)
    expect(await b.renew()).toBe(false)
    expect(await b.release()).toBe(false)
    expect(await conn.send(['GET', key], { key })).toBe(a.token)
    expect(await a.renew()).toBe(true)
    expect(await a.release()).toBe(true)
    expect(await a.release()).toBe(false)
    expect(await b.acquire()).toBe(true)
    await b.release()
  })

  it('overrun: an owner whose lease expired never renews or deletes the next holder’s lease', async () => {
    const key = conn.keys.key('overrun')
    const slow = new Lease(conn, key, { ttl: 30 })
    expect(await slow.acquire()).toBe(true)
    // The slow owner's work runs past its lease; another process takes the key over.
    let next: Lease | undefined
    for (let i = 0; i < 200 && !next; i++) {
      const candidate = new Lease(conn, key, { ttl: '10s' })
      if (await candidate.acquire()) next = candidate
      else await sleep(10)
    }
    expect(next).toBeDefined()
    expect(await slow.renew()).toBe(false)
    expect(await slow.release()).toBe(false)
    expect(await conn.send(['GET', key], { key })).toBe(next?.token)
    expect(Number(await conn.send(['PTTL', key], { key }))).toBeGreaterThan(1_000)
    await next?.release()
  })

  it('release publishes its notice atomically, whether or not the lease was still ours', async () => {
    const key = conn.keys.key('notice')
    const channel = conn.keys.key('notice-channel')
    const sub = await conn.subscriber()
    const got: string[] = []
    const listener = (message: string) => {
      got.push(message)
    }
    await sub.subscribe(channel, listener)
    try {
      const lease = new Lease(conn, key, { ttl: '5s' })
      await lease.acquire()
      expect(await lease.release({ channel, message: 'done' })).toBe(true)
      expect(await lease.release({ channel, message: 'again' })).toBe(false)
      for (let i = 0; i < 100 && got.length < 2; i++) await sleep(10)
      expect(got).toEqual(['done', 'again'])
    } finally {
      await sub.unsubscribe(channel, listener)
    }
  })

  it('keepAlive renews until stopped', async () => {
    const key = conn.keys.key('keepalive')
    const lease = new Lease(conn, key, { ttl: 1_000 })
    await lease.acquire()
    const stop = lease.keepAlive(100)
    await sleep(1_500)
    expect(await conn.send(['GET', key], { key })).toBe(lease.token)
    stop()
    expect(await lease.release()).toBe(true)
  })

  it('validates ttl', () => {
    expect(() => new Lease(conn, 'k', { ttl: 0 })).toThrow(/option "ttl"/)
    expect(() => new Lease(conn, 'k', { ttl: 'soon' as never })).toThrow(/option "ttl"/)
  })
})
