import diagnostics from 'node:diagnostics_channel'
import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type EventContext, EventStream, InvalidPayloadError } from '../src/index.js'
import { connectTo, deferred, type Kind, until } from './helpers.js'

const Order = z.object({ n: z.number().int(), note: z.string().optional() })

describe.each<Kind>(['standalone', 'cluster'])('EventStream on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connectTo(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('appends, consumes in a group created on demand, and acks after the handler succeeds', async () => {
    const stream = new EventStream(conn, 'orders', { schema: Order })
    const ids = await stream.appendMany([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(ids).toHaveLength(3)
    expect(await stream.append({ n: 4, note: 'x' })).toMatch(/^\d+-\d+$/)
    const seen: Array<[number, EventContext]> = []
    const consumer = stream.consume({ group: 'g', consumer: 'c1', blockMs: 100 }, (event, ctx) => {
      seen.push([event.n, ctx])
    })
    await until('4 events', () => seen.length === 4)
    await until('acked', () => consumer.stats.acked === 4)
    expect(seen.map((s) => s[0])).toEqual([1, 2, 3, 4])
    expect(seen[0]![1]).toMatchObject({
      id: ids[0],
      deliveries: 1,
      stream: 'orders',
      group: 'g',
      consumer: 'c1',
    })
    // Appended while the consumer is blocked: it wakes and reads it.
    await stream.append({ n: 5 })
    await until('5th', () => seen.length === 5)
    await consumer.close()
    const pending = await stream.pending('g')
    expect(pending.count).toBe(0)
    expect(consumer.stats).toMatchObject({ read: 5, processed: 5, acked: 5, failed: 0, inFlight: 0 })
    expect(await stream.length()).toBe(5)
    expect((await stream.range({ count: 2 })).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }])
  })

  it('appendMany is atomic: a consumer blocked on the stream reads the whole batch at once, one XACK', async () => {
    const stream = new EventStream(conn, 'batch', { schema: Order, maxLen: 1_000 })
    await stream.destroy()
    const acks: number[] = []
    const consumer = stream.consume(
      { group: 'g', consumer: 'c1', blockMs: 5_000, batch: 200, concurrency: 200 },
      () => {},
    )
    consumer.on('ack', ({ ids }: { ids: string[] }) => acks.push(ids.length))
    await consumer.ready()
    for (const round of [1, 2, 3]) {
      const ids = await stream.appendMany(Array.from({ length: 150 }, (_, n) => ({ n })))
      expect(ids).toHaveLength(150)
      expect(new Set(ids).size).toBe(150)
      await until(`round ${round} acked`, () => consumer.stats.acked === 150 * round)
    }
    // pipelined XADDs woke the blocked read at the first one: two reads and two XACKs per batch, or more
    expect(acks).toEqual([150, 150, 150])
    await expect(stream.appendMany([{ n: 1 }, { n: 'x' as never }])).rejects.toBeInstanceOf(
      InvalidPayloadError,
    )
    expect(await stream.length()).toBe(450) // nothing of an invalid batch was written
    await consumer.close()
    await stream.destroy()
  })

  it('two consumers of one group share the work; two groups each get everything', async () => {
    const stream = new EventStream(conn, 'shared', { schema: Order })
    await stream.appendMany(Array.from({ length: 60 }, (_, n) => ({ n })))
    const a: number[] = []
    const b: number[] = []
    const other: number[] = []
    const slow = () => new Promise((r) => setTimeout(r, 2))
    const ca = stream.consume(
      { group: 'g', consumer: 'a', batch: 5, concurrency: 5, blockMs: 50 },
      async (e) => {
        a.push(e.n)
        await slow()
      },
    )
    const cb = stream.consume(
      { group: 'g', consumer: 'b', batch: 5, concurrency: 5, blockMs: 50 },
      async (e) => {
        b.push(e.n)
        await slow()
      },
    )
    const co = stream.consume({ group: 'other', blockMs: 50 }, (e) => void other.push(e.n))
    await until('all consumed', () => a.length + b.length === 60 && other.length === 60)
    await Promise.all([ca.close(), cb.close(), co.close()])
    expect(new Set([...a, ...b]).size).toBe(60)
    expect(a.length).toBeGreaterThan(0)
    expect(b.length).toBeGreaterThan(0)
    expect((await stream.pending('g')).count).toBe(0)
  })

  it('retries a failed handler after claimIdleMs with a growing delivery count, then dead-letters it', async () => {
    const stream = new EventStream(conn, 'retry', { schema: Order })
    const id = await stream.append({ n: 1 })
    await stream.append({ n: 2 })
    const attempts: number[] = []
    const failed: unknown[] = []
    const dead: unknown[] = []
    const consumer = stream.consume(
      { group: 'g', blockMs: 30, claimIdleMs: 40, maxDeliveries: 3 },
      (event, ctx) => {
        if (event.n === 1) {
          attempts.push(ctx.deliveries)
          throw new Error('cannot bill order 1')
        }
      },
    )
    consumer.on('failed', (e) => failed.push(e))
    consumer.on('dead-letter', (e) => dead.push(e))
    await until('dead-lettered', () => dead.length === 1)
    await consumer.close()
    expect(attempts).toEqual([1, 2, 3])
    expect(failed).toHaveLength(3)
    const letters = await stream.deadLetters()
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({
      originalId: id,
      reason: 'failed',
      deliveries: 3,
      group: 'g',
      error: 'cannot bill order 1',
      data: '{"n":1}',
    })
    expect((await stream.pending('g')).count).toBe(0)
    expect(consumer.stats).toMatchObject({ processed: 1, failed: 3, deadLettered: 1 })
  })

  it('dead-letters entries reclaimed more than maxDeliveries times (poison message crashing consumers)', async () => {
    const stream = new EventStream(conn, 'poison')
    const id = await stream.append({ boom: true })
    // Two deliveries that never settle: read directly without acking, as a crashing consumer would.
    await conn.send(['XGROUP', 'CREATE', stream.key, 'g', '0', 'MKSTREAM'], { key: stream.key })
    await conn.send(['XREADGROUP', 'GROUP', 'g', 'dead1', 'COUNT', '1', 'STREAMS', stream.key, '>'], {
      key: stream.key,
    })
    await conn.send(['XCLAIM', stream.key, 'g', 'dead2', '0', id], { key: stream.key })
    const seen: unknown[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 20, claimIdleMs: 1, maxDeliveries: 2 }, (e) => {
      seen.push(e)
    })
    await until('dead letter', async () => (await stream.deadLetters()).length === 1)
    await consumer.close()
    expect(seen).toEqual([])
    const [letter] = await stream.deadLetters()
    expect(letter).toMatchObject({ originalId: id, reason: 'max-deliveries', deliveries: 2 })
    expect(consumer.stats.deadLettered).toBe(1)
  })

  it('never gives invalid entries to the handler: counted, reported and dead-lettered', async () => {
    const stream = new EventStream(conn, 'invalid', { schema: Order })
    await expect(stream.append({ n: 'one' } as never)).rejects.toBeInstanceOf(InvalidPayloadError)
    await expect(stream.appendMany([{ n: 1 }, { n: 1.5 }])).rejects.toMatchObject({
      code: 'E_INVALID_PAYLOAD',
      target: 'invalid',
    })
    expect(await stream.length()).toBe(0) // all or nothing
    const key = stream.key
    await conn.send(['XADD', key, '*', 'v', '1', 'data', '{"n":"x"}'], { key })
    await conn.send(['XADD', key, '*', 'v', '1', 'data', 'nope'], { key })
    await conn.send(['XADD', key, '*', 'other', 'field'], { key })
    await conn.send(['XADD', key, '*', 'v', '2', 'data', '{"n":1}'], { key })
    await stream.append({ n: 7 })
    await conn.send(['XADD', key, '*', 'data', '{"n":8}'], { key }) // no version: accepted
    const seen: number[] = []
    const invalid: unknown[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 20 }, (e) => void seen.push(e.n))
    consumer.on('invalid', (e) => invalid.push(e))
    await until('processed', () => seen.length === 2 && consumer.stats.invalid === 4)
    await until('dead letters', async () => (await stream.deadLetters()).length === 4)
    await consumer.close()
    expect(seen).toEqual([7, 8])
    expect(invalid).toHaveLength(4)
    expect((await stream.deadLetters()).every((d) => d.reason === 'invalid')).toBe(true)
    expect((await stream.pending('g')).count).toBe(0)
  })

  it('bounds in-flight handlers and stops reading while full (backpressure)', async () => {
    const stream = new EventStream(conn, 'bp', { schema: Order })
    await stream.appendMany(Array.from({ length: 30 }, (_, n) => ({ n })))
    let running = 0
    let maxRunning = 0
    const gate = deferred()
    const consumer = stream.consume(
      { group: 'g', consumer: 'c', concurrency: 4, batch: 10, blockMs: 20 },
      async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await gate.promise
        running--
      },
    )
    await until('slots full', () => running === 4)
    await new Promise((r) => setTimeout(r, 100))
    // Full: nothing more was read from the stream (the group's pending list holds only the 4 in flight).
    const pending = await stream.pending('g')
    expect(pending.count).toBe(4)
    expect(consumer.stats.inFlight).toBe(4)
    gate.resolve()
    await until('all done', () => consumer.stats.processed === 30)
    await consumer.close()
    expect(maxRunning).toBe(4)
  })

  it('closes gracefully: stops reading, finishes in-flight handlers, acks them', async () => {
    const stream = new EventStream(conn, 'close', { schema: Order })
    await stream.appendMany(Array.from({ length: 6 }, (_, n) => ({ n })))
    const started: number[] = []
    const finished: number[] = []
    const consumer = stream.consume({ group: 'g', concurrency: 3, batch: 3, blockMs: 5000 }, async (e) => {
      started.push(e.n)
      await new Promise((r) => setTimeout(r, 80))
      finished.push(e.n)
    })
    await until('3 started', () => started.length === 3)
    const t0 = Date.now()
    await consumer.close()
    // CLIENT UNBLOCK wakes the 5 s blocking read: close does not wait for it.
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(finished.sort()).toEqual(started.sort())
    expect(started).toHaveLength(3)
    expect((await stream.pending('g')).count).toBe(0)
    await consumer.close() // idempotent
    expect(consumer.closed).toBe(true)
    // The rest is still there for the next consumer.
    const rest: number[] = []
    const next = stream.consume({ group: 'g', blockMs: 20 }, (e) => void rest.push(e.n))
    await until('rest', () => rest.length === 3)
    await next.close()
    expect(rest).toEqual([3, 4, 5])
  })

  it('close({ timeout }) gives up on a stuck handler; its entry stays pending for redelivery', async () => {
    const stream = new EventStream(conn, 'stuck')
    const id = await stream.append('hang')
    const consumer = stream.consume({ group: 'g', consumer: 'c', blockMs: 20 }, () => new Promise(() => {}))
    await until('in flight', () => consumer.stats.inFlight === 1)
    expect(() => consumer.close({ timeout: 'soon' })).toThrow(/option "timeout"/)
    await consumer.close({ timeout: 50 })
    const pending = await stream.pending('g')
    expect(pending.entries.map((e) => e.id)).toEqual([id])
    const again: unknown[] = []
    const rescuer = stream.consume({ group: 'g', blockMs: 20, claimIdleMs: 30 }, (e, ctx) => {
      again.push([e, ctx.deliveries])
    })
    await until('redelivered', () => again.length === 1)
    await rescuer.close()
    expect(again).toEqual([['hang', 2]])
  })

  it('does not starve new entries while XAUTOCLAIM scans a long pending list of a live consumer', async () => {
    const stream = new EventStream(conn, 'long-pel')
    await stream.appendMany(Array.from({ length: 300 }, (_, i) => i))
    const key = stream.key
    await conn.send(['XGROUP', 'CREATE', key, 'g', '0'], { key })
    await conn.send(['XREADGROUP', 'GROUP', 'g', 'busy', 'COUNT', '300', 'STREAMS', key, '>'], { key })
    await stream.append('new')
    let claims = 0
    let claimsBeforeFirst = -1
    const onCommand = (e: unknown) => {
      if ((e as { command: string }).command === 'EVALSHA events:claim') claims++
    }
    diagnostics.subscribe('cache:client:command', onCommand)
    try {
      const consumer = stream.consume({ group: 'g', concurrency: 1, blockMs: 20, claimIdleMs: '1m' }, (e) => {
        if (e === 'new' && claimsBeforeFirst < 0) claimsBeforeFirst = claims
      })
      await until('new entry handled', () => claimsBeforeFirst >= 0)
      await consumer.close()
    } finally {
      diagnostics.unsubscribe('cache:client:command', onCommand)
    }
    // XAUTOCLAIM COUNT 1 scans about 10 entries a call: a full scan first would take ~30 calls.
    expect(claimsBeforeFirst).toBeLessThanOrEqual(2)
    expect((await stream.pending('g', { consumer: 'busy' })).count).toBe(300)
  })

  it('stops when its Connection is closed under it, and close() still resolves', async () => {
    const own = await connectTo(kind)
    const stream = new EventStream(own, 'orphan')
    const errors: string[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 50 }, () => {})
    consumer.on('error', (e) => errors.push(e.code))
    await consumer.ready()
    await own.close()
    await until('stopped', () => consumer.closed)
    await consumer.close()
    expect(errors).toContain('E_CLOSED')
  })

  it('three racing consumers with failing handlers: every event succeeds, nothing left pending', async () => {
    const stream = new EventStream(conn, 'race', { schema: Order })
    const total = 150
    await stream.appendMany(Array.from({ length: total }, (_, n) => ({ n })))
    const succeeded = new Map<number, number>()
    const attempts = new Map<number, number>()
    const options = { group: 'g', concurrency: 4, batch: 8, blockMs: 20, claimIdleMs: 200, maxDeliveries: 10 }
    const consumers = ['a', 'b', 'c'].map((name) =>
      stream.consume({ ...options, consumer: name }, async (e) => {
        const tries = (attempts.get(e.n) ?? 0) + 1
        attempts.set(e.n, tries)
        await new Promise((r) => setTimeout(r, e.n % 3))
        if (e.n % 5 === 0 && tries === 1) throw new Error('transient')
        succeeded.set(e.n, (succeeded.get(e.n) ?? 0) + 1)
      }),
    )
    await until('all succeeded', () => succeeded.size === total, 20_000)
    await until('nothing pending', async () => (await stream.pending('g')).count === 0, 10_000)
    await Promise.all(consumers.map((c) => c.close()))
    // At-least-once: a success is repeated only if its ack came later than claimIdleMs (a stalled machine).
    expect([...succeeded.values()].every((n) => n >= 1)).toBe(true)
    expect(await stream.deadLetters()).toEqual([])
    for (let n = 0; n < total; n += 5) expect(attempts.get(n)).toBeGreaterThanOrEqual(2)
    const stats = consumers.map((c) => c.stats)
    expect(stats.reduce((sum, s) => sum + s.failed, 0)).toBe(total / 5)
    expect(stats.reduce((sum, s) => sum + s.acked, 0)).toBeGreaterThanOrEqual(total)
  })

  it('a consumer blocked on an empty stream closes promptly', async () => {
    const stream = new EventStream(conn, 'idle')
    const consumer = stream.consume({ group: 'g', blockMs: 10_000 }, () => {})
    await consumer.ready()
    await new Promise((r) => setTimeout(r, 50))
    const t0 = Date.now()
    await consumer.close()
    expect(Date.now() - t0).toBeLessThan(3000)
  })

  it('trims by MAXLEN and MINID, on append and on demand; startId $ skips history', async () => {
    const capped = new EventStream(conn, 'capped', { maxLen: 10, exactTrim: true })
    for (let i = 0; i < 25; i++) await capped.append(i)
    expect(await capped.length()).toBe(10)
    expect(await capped.trim({ maxLen: 3 })).toBe(7)
    expect(await capped.length()).toBe(3)
    const aged = new EventStream(conn, 'aged', { minId: '1h', exactTrim: true })
    const key = aged.key
    await conn.send(['XADD', key, '1000-0', 'v', '1', 'data', '0'], { key }) // from 1970
    await aged.append(1)
    expect(await aged.length()).toBe(1)
    await conn.send(['XADD', key, '*', 'v', '1', 'data', '2'], { key })
    const [last] = (await aged.range({ start: '-', end: '+' })).slice(-1)
    expect(await aged.trim({ minId: last!.id })).toBe(1)
    const seen: unknown[] = []
    const latest = capped.consume({ group: 'tail', startId: '$', blockMs: 20 }, (e) => void seen.push(e))
    await latest.ready()
    await capped.append('new')
    await until('new only', () => seen.length === 1)
    await latest.close()
    expect(seen).toEqual(['new'])
    await capped.destroy()
    expect(await capped.length()).toBe(0)
  })

  it('recreates its group when the stream is deleted under it', async () => {
    const stream = new EventStream(conn, 'recreate')
    const seen: unknown[] = []
    const errors: unknown[] = []
    const consumer = stream.consume(
      { group: 'g', blockMs: 20, claimIdleMs: 100_000 },
      (e) => void seen.push(e),
    )
    consumer.on('error', (e) => errors.push(e))
    await consumer.ready()
    await stream.destroy()
    await until('NOGROUP seen', () => errors.length > 0)
    await stream.append('after')
    await until('read after recreate', () => seen.length === 1)
    await consumer.close()
  })

  it('close() closes the consumers it started (acking their work), refuses new work, keeps the data', async () => {
    const stream = new EventStream(conn, 'closing', { schema: Order })
    const gate = deferred<void>()
    const seen: number[] = []
    const consumer = stream.consume({ group: 'g', blockMs: 100 }, async (event) => {
      seen.push(event.n)
      await gate.promise
    })
    await stream.append({ n: 1 })
    await until('handler running', () => seen.length === 1)
    const closing = stream.close()
    gate.resolve()
    await closing
    expect(consumer.closed).toBe(true)
    expect(consumer.stats.acked).toBe(1)
    await stream.close() // idempotent
    await expect(stream.append({ n: 2 })).rejects.toMatchObject({ code: 'E_CLOSED' })
    await expect(stream.appendMany([{ n: 2 }])).rejects.toMatchObject({ code: 'E_CLOSED' })
    expect(() => stream.consume({ group: 'g' }, () => {})).toThrow(
      expect.objectContaining({ code: 'E_CLOSED' }),
    )
    expect(await stream.length()).toBe(1)
    expect((await stream.pending('g')).count).toBe(0)
    {
      await using scoped = new EventStream(conn, 'closing')
      await using c = scoped.consume({ group: 'g2', blockMs: 100 }, () => {})
      await c.ready()
    }
    await stream.destroy()
  })

  it('validates options with typed errors naming the field', () => {
    expect(() => new EventStream(conn, '')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'name' }),
    )
    expect(() => new EventStream(conn, 's', { maxLen: 0 })).toThrow(/option "maxLen" must be at least 1/)
    expect(() => new EventStream(conn, 's', { maxLen: 5, minId: '1h' })).toThrow(/option "minId"/)
    expect(() => new EventStream(conn, 's', { minId: 'soon' })).toThrow(/option "minId"/)
    expect(() => new EventStream(conn, 's', { schema: {} as never })).toThrow(/option "schema"/)
    const s = new EventStream(conn, 's')
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /option "group"/],
      [{ group: 'g', concurrency: 0 }, /option "concurrency"/],
      [{ group: 'g', batch: 1.5 }, /option "batch"/],
      [{ group: 'g', blockMs: -1 }, /option "blockMs"/],
      [{ group: 'g', claimIdleMs: 'later' }, /option "claimIdleMs"/],
      [{ group: 'g', maxDeliveries: 0 }, /option "maxDeliveries"/],
      [{ group: 'g', startId: 'x' }, /option "startId"/],
      [{ group: 'g', extra: 1 }, /option "extra" is not a known option/],
    ]
    for (const [options, message] of bad) {
      expect(() => s.consume(options as never, () => {})).toThrow(message)
    }
    expect(() => s.consume({ group: 'g' }, 'x' as never)).toThrow(/argument "handler" must be a function/)
    return expect(s.trim({ maxLen: -1 })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
  })
})
