/**
 * @cache/events: Stream append+consume throughput against a hand-written node-redis XADD/XREADGROUP/XACK
 * loop, and pub/sub publish→receive latency against raw node-redis PUBLISH/SUBSCRIBE, same server, same run.
 */
import { connect } from '@cache/client'
import { EventStream, PubSub } from '@cache/events'
import { createClient } from '@redis/client'
import { z } from 'zod'
import { defineSuite, type Measurement, measureInterleaved, type RatioResult, ratio } from '../lib.js'

const BATCH = 100
const Event = z.object({ id: z.number(), user: z.string(), amount: z.number(), note: z.string() })
const event = (id: number) => ({ id, user: `u${id % 1000}`, amount: 42.5, note: 'x'.repeat(50) })

export default defineSuite('events', async (ctx) => {
  const conn = await connect({ url: ctx.standaloneUrl, namespace: 'bench-events' })
  const raw = createClient({ url: ctx.standaloneUrl })
  const rawReader = raw.duplicate()
  const rawSub = raw.duplicate()
  const rawLoopReader = raw.duplicate()
  await Promise.all([raw.connect(), rawReader.connect(), rawSub.connect(), rawLoopReader.connect()])

  // --- @cache/events consumers (running in the background, as in production) ---
  const plain = new EventStream(conn, 'plain', { maxLen: 10_000 })
  const typed = new EventStream(conn, 'typed', { schema: Event, maxLen: 10_000 })
  await Promise.all([plain.destroy(), typed.destroy()])
  const consumerOptions = { group: 'bench', concurrency: BATCH, batch: BATCH, blockMs: 1000 }
  const plainConsumer = plain.consume(consumerOptions, () => {})
  const typedConsumer = typed.consume(consumerOptions, () => {})
  await Promise.all([plainConsumer.ready(), typedConsumer.ready()])
  /** Event-driven wait for acknowledgements (acks come after the handler succeeded): no polling. */
  const acks = (consumer: typeof plainConsumer | typeof typedConsumer) => {
    let acked = 0
    let waiter: { target: number; resolve: () => void } | undefined
    consumer.on('ack', ({ acked: n }: { acked: number }) => {
      acked += n
      if (waiter && acked >= waiter.target) {
        waiter.resolve()
        waiter = undefined
      }
    })
    return (count: number) =>
      new Promise<void>((resolve) => {
        waiter = { target: acked + count, resolve }
      })
  }
  const plainAcked = acks(plainConsumer)
  const typedAcked = acks(typedConsumer)

  // --- the raw loop: XADD the batch (pipelined), XREADGROUP it, parse, XACK it ---
  const rawKey = 'bench-events:raw'
  await raw.del(rawKey)
  await raw.sendCommand(['XGROUP', 'CREATE', rawKey, 'bench', '0', 'MKSTREAM'])
  let counter = 0
  const rawRound = async () => {
    await Promise.all(
      Array.from({ length: BATCH }, () =>
        raw.sendCommand([
          'XADD',
          rawKey,
          'MAXLEN',
          '~',
          '10000',
          '*',
          'data',
          JSON.stringify(event(counter++)),
        ]),
      ),
    )
    let got = 0
    while (got < BATCH) {
      const reply = (await rawReader.sendCommand([
        'XREADGROUP',
        'GROUP',
        'bench',
        'raw',
        'COUNT',
        String(BATCH),
        'BLOCK',
        '1000',
        'STREAMS',
        rawKey,
        '>',
      ])) as Array<[string, Array<[string, string[]]>]> | null
      const entries = reply?.[0]?.[1] ?? []
      for (const [, fields] of entries) JSON.parse(fields[1]!)
      got += entries.length
      if (entries.length) await raw.sendCommand(['XACK', rawKey, 'bench', ...entries.map((e) => e[0])])
    }
  }
  // --- the raw background loop: a consumer loop (XREADGROUP BLOCK, parse, XACK) running beside the producer,
  // as a hand-written consumer service would, fed by pipelined XADDs ---
  const loopKey = 'bench-events:raw-loop'
  await raw.del(loopKey)
  await raw.sendCommand(['XGROUP', 'CREATE', loopKey, 'bench', '0', 'MKSTREAM'])
  let loopAcked = 0
  let loopWaiter: { target: number; resolve: () => void } | undefined
  let loopRunning = true
  const loop = (async () => {
    while (loopRunning) {
      const reply = (await rawLoopReader.sendCommand([
        'XREADGROUP',
        'GROUP',
        'bench',
        'loop',
        'COUNT',
        String(BATCH),
        'BLOCK',
        '200',
        'STREAMS',
        loopKey,
        '>',
      ])) as Array<[string, Array<[string, string[]]>]> | null
      const entries = reply?.[0]?.[1] ?? []
      if (entries.length === 0) continue
      for (const [, fields] of entries) JSON.parse(fields[1]!)
      loopAcked += Number(await raw.sendCommand(['XACK', loopKey, 'bench', ...entries.map((e) => e[0])]))
      if (loopWaiter && loopAcked >= loopWaiter.target) {
        loopWaiter.resolve()
        loopWaiter = undefined
      }
    }
  })()
  const loopRound = async () => {
    const done = new Promise<void>((resolve) => {
      loopWaiter = { target: loopAcked + BATCH, resolve }
    })
    await Promise.all(
      Array.from({ length: BATCH }, () =>
        raw.sendCommand([
          'XADD',
          loopKey,
          'MAXLEN',
          '~',
          '10000',
          '*',
          'data',
          JSON.stringify(event(counter++)),
        ]),
      ),
    )
    await done
  }

  const ourRound = (stream: EventStream<any>, acked: (count: number) => Promise<void>) => async () => {
    const done = acked(BATCH)
    await stream.appendMany(Array.from({ length: BATCH }, () => event(counter++)))
    await done
  }

  const measurements: Measurement[] = []
  const ratios: RatioResult[] = []
  const streams = await measureInterleaved(
    [
      { name: `stream ${BATCH} append+consume+ack, raw node-redis in-band loop`, op: rawRound },
      { name: `stream ${BATCH} append+consume+ack, raw node-redis background consumer`, op: loopRound },
      {
        name: `stream ${BATCH} append+consume+ack, @cache/events`,
        op: ourRound(plain, plainAcked),
      },
      {
        name: `stream ${BATCH} append+consume+ack, @cache/events + zod schema`,
        op: ourRound(typed, typedAcked),
      },
    ],
    { concurrency: 1, durationMs: 10_000, rounds: 5, scale: ctx.scale },
  )
  for (const m of streams) m.extra = { eventsPerSec: m.opsPerSec * BATCH }
  measurements.push(...streams)
  const [inBand, rawLoop, ourStream, typedStream] = streams
  ratios.push(
    ratio(
      'stream append+consume throughput vs raw node-redis background XREADGROUP/XACK consumer loop',
      ourStream!.opsPerSec,
      rawLoop!.opsPerSec,
      0.9,
    ),
    ratio(
      'stream append+consume throughput vs raw in-band loop (XADD, then XREADGROUP + XACK in the same task)',
      ourStream!.opsPerSec,
      inBand!.opsPerSec,
      0.95,
      false,
      'best case for raw: the reader knows the batch is complete, one read and one XACK per round',
    ),
    ratio(
      'stream append+consume throughput with zod validation (append and consume) vs raw background loop',
      typedStream!.opsPerSec,
      rawLoop!.opsPerSec,
      0.9,
      false,
      'the raw loop validates nothing; the schema is checked twice (append and consume)',
    ),
  )

  // --- pub/sub publish→receive latency ---
  const bus = new PubSub(conn)
  const waiters = new Map<number, () => void>()
  let seq = 0
  await bus.subscribe('latency', (msg) => {
    const n = (msg as { n: number }).n
    waiters.get(n)?.()
    waiters.delete(n)
  })
  await rawSub.subscribe('bench-events:raw-latency', (message) => {
    const n = (JSON.parse(message) as { n: number }).n
    waiters.get(n)?.()
    waiters.delete(n)
  })
  const roundTrip = (publish: (n: number) => Promise<unknown>) => async () => {
    const n = seq++
    const received = new Promise<void>((resolve) => waiters.set(n, resolve))
    await publish(n)
    await received
  }
  for (const concurrency of [1, 32]) {
    const latency = await measureInterleaved(
      [
        {
          name: 'publish→receive, raw node-redis',
          op: roundTrip((n) => raw.publish('bench-events:raw-latency', JSON.stringify({ n }))),
        },
        {
          name: 'publish→receive, @cache/events PubSub',
          op: roundTrip((n) => bus.publish('latency', { n })),
        },
      ],
      { concurrency, durationMs: 4000, rounds: 3, scale: ctx.scale },
    )
    measurements.push(...latency)
    const [rawLatency, ourLatency] = latency
    ratios.push(
      ratio(
        `publish→receive p50 latency vs raw node-redis, c=${concurrency}`,
        ourLatency!.p50Us,
        rawLatency!.p50Us,
        1.25,
        true,
      ),
    )
  }

  loopRunning = false
  await loop
  await Promise.all([plainConsumer.close(), typedConsumer.close(), bus.close()])
  await Promise.all([plain.destroy(), typed.destroy(), raw.del([rawKey, loopKey])])
  await conn.close()
  await Promise.all([raw.close(), rawReader.close(), rawSub.close(), rawLoopReader.close()])
  return {
    suite: 'events',
    description:
      `Streams: one round = append ${BATCH} events (~110-byte JSON), have them consumed by a consumer group and acknowledged; ` +
      '@cache/events (background consumer, concurrency 100, batch 100, acks batched per event-loop turn, MAXLEN ~ 10000) ' +
      'vs raw node-redis: a background consumer loop (XREADGROUP BLOCK COUNT 100, JSON.parse, one XACK per read) fed by pipelined XADDs ' +
      '(the target), and an in-band loop (pipelined XADD, then XREADGROUP COUNT 100 + XACK in the same task: best case). Pub/sub: publish one ' +
      'message and wait until the subscriber receives it (p50/p99 = publish→receive latency), @cache/events PubSub (JSON ' +
      'envelope) vs raw node-redis PUBLISH/SUBSCRIBE. Targets: stream throughput >= 0.9x raw; pub/sub p50 <= 1.25x raw.',
    settings: { batch: BATCH, concurrency: BATCH, streamRounds: 5, pubsubRounds: 3 },
    measurements,
    ratios,
  }
})
