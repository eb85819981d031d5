import { type Connection, connect, isCacheError } from '@cache/client'
import { type StandaloneTopology, startStandalone } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventStream, PubSub } from '../src/index.js'
import { until } from './helpers.js'

/** Publishes until it succeeds (the main connection and its breaker recover after a restart). */
async function publishEventually(bus: PubSub, channel: string, message: unknown): Promise<void> {
  await until(`publish ${channel}`, async () => {
    try {
      await bus.publish(channel, message)
      return true
    } catch (err) {
      if (isCacheError(err)) return false
      throw err
    }
  })
}

describe('failures on a dedicated standalone server', () => {
  let topology: StandaloneTopology
  let conn: Connection
  beforeAll(async () => {
    topology = await startStandalone()
    conn = await connect({
      url: topology.url,
      namespace: 'restart',
      commandTimeout: 300,
      reconnect: { initialDelay: 10, maxDelay: 100 },
      breaker: { failureThreshold: 3, resetTimeout: 100 },
    })
  })
  afterAll(async () => {
    await conn?.close()
    await topology?.stop()
  })

  it('resubscribes channels, patterns and sharded channels after a server restart', async () => {
    const bus = new PubSub(conn)
    const sharded = new PubSub(conn, { sharded: true })
    const got: string[] = []
    let resubscribed = 0
    bus.on('resubscribed', () => resubscribed++)
    await bus.subscribe('plain', (m) => void got.push(`plain:${m}`))
    await bus.subscribe('room.*', (m, meta) => void got.push(`${meta.channel}:${m}`))
    await sharded.subscribe('shard', (m) => void got.push(`shard:${m}`))
    await bus.publish('plain', 1)
    await until('before restart', () => got.length === 1)

    await topology.master.restart()
    await until('resubscribed', () => resubscribed > 0)
    got.length = 0
    await publishEventually(bus, 'plain', 2)
    await publishEventually(bus, 'room.a', 3)
    await publishEventually(sharded, 'shard', 4)
    await until('after restart', () => got.length === 3)
    expect(got.sort()).toEqual(['plain:2', 'room.a:3', 'shard:4'])
    await Promise.all([bus.close(), sharded.close()])
  })

  it('a consumer survives a restart (group recreated) and a pause (blocked read abandoned)', async () => {
    const stream = new EventStream(conn, 'survivor')
    const seen: unknown[] = []
    const errors: string[] = []
    const consumer = stream.consume(
      { group: 'g', blockMs: 100, claimIdleMs: 60_000 },
      (e) => void seen.push(e),
    )
    consumer.on('error', (e) => errors.push(e.code))
    await stream.append('a')
    await until('first', () => seen.length === 1)

    // The server comes back empty (no persistence): the group is gone and must be recreated.
    await topology.master.restart()
    await until('appended after restart', async () => {
      try {
        await stream.append('b')
        return true
      } catch {
        return false
      }
    })
    await until('read after restart', () => seen.includes('b'), 15_000)

    // Paused longer than blockMs + commandTimeout: the read times out and a fresh reader takes over.
    topology.master.pause()
    await new Promise((r) => setTimeout(r, 700))
    topology.master.resume()
    await until('appended after pause', async () => {
      try {
        await stream.append('c')
        return true
      } catch {
        return false
      }
    })
    await until('read after pause', () => seen.includes('c'), 15_000)
    await consumer.close()
    expect(errors).toContain('E_TIMEOUT')
    expect(seen.filter((e) => e === 'a')).toHaveLength(1)
  })

  it('while the server is down: publish fails with a typed error; a consumer started meanwhile catches up', async () => {
    const bus = new PubSub(conn)
    const stream = new EventStream(conn, 'late')
    await topology.master.kill()
    const err = await bus.publish('x', 1).catch((e) => e)
    expect(isCacheError(err)).toBe(true)
    expect(['E_UNAVAILABLE', 'E_TIMEOUT']).toContain(err.code)
    const seen: unknown[] = []
    const errors: string[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 50 }, (e) => void seen.push(e))
    consumer.on('error', (e) => errors.push(e.code))
    await until('errors reported', () => errors.length > 0)
    expect(seen).toEqual([])
    await topology.master.restart()
    await until('append after restart', async () => {
      try {
        await stream.append('back')
        return true
      } catch {
        return false
      }
    })
    await until('consumed after restart', () => seen.length === 1, 15_000)
    await consumer.close()
    await bus.close()
    expect(seen).toEqual(['back'])
  })
})
