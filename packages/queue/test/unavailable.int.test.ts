import { type Connection, connect } from '@cache/client'
import {
  type ClusterTopology,
  codeOf,
  type StandaloneTopology,
  startCluster,
  startStandalone,
  uniquePrefix,
} from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineQueue, type TypedQueue } from '../src/index.js'
import { until } from './helpers.js'

const jobs = { j: z.object({ i: z.number() }) }
const COMMAND_TIMEOUT_MS = 300
/** Time on top of commandTimeout a failing call may take (event loop, a loaded 2-core machine). */
const SLACK_MS = 1_200
/** A hang guard for the dead-letter calls (not a timing target): far above commandTimeout, far below for ever. */
const HANG_GUARD_MS = COMMAND_TIMEOUT_MS + 2_000

/** How `call` settled and after how long. */
async function timed(call: () => Promise<unknown>): Promise<{ code: string; ms: number }> {
  const start = performance.now()
  const code = await codeOf(call())
  return { code, ms: performance.now() - start }
}

/** The producer calls (add, addBulk, stats, schedule, unschedule, schedules) fail with E_UNAVAILABLE within about commandTimeout. */
async function bothUnavailable(q: TypedQueue<typeof jobs>): Promise<number[]> {
  const took: number[] = []
  for (const call of [
    () => q.add('j', { i: -1 }),
    () =>
      q.addBulk([
        { name: 'j', data: { i: -2 } },
        { name: 'j', data: { i: -3 } },
      ]),
    () => q.stats(),
    () => q.schedule('j', { every: '1h' }, { i: -4 }, { id: 'late' }),
    () => q.unschedule('late'),
    () => q.schedules(),
  ]) {
    const r = await timed(call)
    expect(r.code).toBe('E_UNAVAILABLE')
    expect(r.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS * 0.8)
    expect(r.ms).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS)
    took.push(Math.round(r.ms))
  }
  return took
}

/** Every dead-letter call fails with E_UNAVAILABLE (not an untyped ioredis error, not a hang). */
async function deadLettersUnavailable(q: TypedQueue<typeof jobs>): Promise<void> {
  const dlq = q.deadLetters
  for (const [what, call] of [
    ['count', () => dlq.count()],
    ['list', () => dlq.list()],
    ['inspect', () => dlq.inspect('dead-1')],
    ['replay ids', () => dlq.replay({ ids: ['dead-1'] })],
    ['replay all', () => dlq.replay({ all: true })],
    ['purge filter', () => dlq.purge({ filter: { name: 'j' } })],
    ['purge ids', () => dlq.purge({ ids: ['dead-1'] })],
  ] as const) {
    const r = await timed(call)
    expect({ what, code: r.code }).toEqual({ what, code: 'E_UNAVAILABLE' })
    expect(r.ms).toBeLessThan(HANG_GUARD_MS)
  }
}

describe('commandTimeout: a paused or killed standalone server (own server)', () => {
  let server: StandaloneTopology
  let conn: Connection
  let q: TypedQueue<typeof jobs>
  beforeAll(async () => {
    // An fsync'd AOF, so that the jobs acknowledged before a kill are there after the restart.
    server = await startStandalone({ config: { appendonly: 'yes', appendfsync: 'always' } })
    conn = await connect({ url: server.url, namespace: uniquePrefix('qunavail') })
    q = defineQueue(conn, 'unavail', { jobs, commandTimeout: `${COMMAND_TIMEOUT_MS}ms`, checks: false })
    // connected first: a connect slower than the 300 ms (a loaded machine) would fail the first add
    await q.queue.waitUntilReady()
  })
  afterAll(async () => {
    server?.master.resume()
    await q?.close()
    await conn?.close()
    await server?.stop()
  })

  /** Ids added (and acknowledged) so far; every one must survive each fault. */
  const acknowledged: string[] = []
  async function addSome(base: number): Promise<void> {
    acknowledged.push(await q.add('j', { i: base }))
    acknowledged.push(
      ...(await q.addBulk([1, 2].map((k) => ({ name: 'j' as const, data: { i: base + k } })))),
    )
  }
  async function allThere(): Promise<void> {
    const found = await Promise.all(acknowledged.map((id) => q.queue.getJob(id)))
    expect(found.map((j) => j?.id)).toEqual(acknowledged)
  }

  it.each([
    ['paused (SIGSTOP)', () => server.master.pause(), async () => server.master.resume()],
    ['killed', () => server.master.kill(), () => server.master.restart()],
  ] as const)(
    '%s: add, addBulk, stats, schedule, unschedule, schedules and the dead-letter calls fail with E_UNAVAILABLE in about commandTimeout; afterwards adds work and earlier jobs are there',
    async (_, fault, recover) => {
      await addSome(acknowledged.length * 10)
      await fault()
      const took = await bothUnavailable(q)
      await deadLettersUnavailable(q)
      // Still failing, not queueing: a second round times out just the same.
      took.push(...(await bothUnavailable(q)))
      await recover()
      await until('adds work again', () => q.add('j', { i: 1e6 }).then(Boolean, () => false), 20_000)
      await addSome(acknowledged.length * 10)
      await allThere()
      // A timed-out command is not withdrawn: one already on the socket (pause) or in ioredis's offline queue
      // (kill) still runs once the server is back, so an E_UNAVAILABLE add has an unknown outcome.
      const late = (await q.queue.getJobs(['wait'], 0, -1)).filter((j) => j.data.i < 0)
      console.log(
        `[queue] ${_}: calls failed after ${took.join(', ')} ms; ${late.length} timed-out adds landed later`,
      )
      await q.unschedule('late')
      await Promise.all(late.map((j) => j.remove()))
    },
    60_000,
  )

  it('a queue made while Redis is down: add and addBulk fail with E_UNAVAILABLE in about commandTimeout (BullMQ waits for the first ready with no limit), then work', async () => {
    await server.master.kill()
    const late = defineQueue(conn, 'made-down', {
      jobs,
      commandTimeout: `${COMMAND_TIMEOUT_MS}ms`,
      checks: false,
    })
    try {
      for (const call of [
        () => late.add('j', { i: 1 }),
        () => late.addBulk([{ name: 'j', data: { i: 2 } }]),
      ]) {
        const r = await timed(call)
        expect(r.code).toBe('E_UNAVAILABLE')
        expect(r.ms).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS)
      }
      // BullMQ's wait for the first ready has no limit of its own: the dead-letter calls get the deadline too
      await deadLettersUnavailable(late)
      await server.master.restart()
      await until('adds work', () => late.add('j', { i: 3 }).then(Boolean, () => false), 20_000)
      await allThere()
    } finally {
      await late.close()
    }
  }, 60_000)
})

describe('commandTimeout: every Cluster node paused or killed (own cluster)', () => {
  let cluster: ClusterTopology
  let conn: Connection
  let q: TypedQueue<typeof jobs>
  beforeAll(async () => {
    cluster = await startCluster({ replicasPerMaster: 0 })
    const info = cluster.info() as { nodes: Array<{ host: string; port: number }> }
    conn = await connect({ cluster: { nodes: info.nodes }, namespace: uniquePrefix('qunavail') })
    q = defineQueue(conn, 'unavail', { jobs, commandTimeout: `${COMMAND_TIMEOUT_MS}ms`, checks: false })
    // connected first: a connect slower than the 300 ms (a loaded machine) would fail the first add
    await q.queue.waitUntilReady()
  }, 120_000)
  afterAll(async () => {
    for (const n of cluster?.nodes ?? []) n.resume()
    await q?.close()
    await conn?.close()
    await cluster?.stop()
  })

  // Killed: ioredis' Cluster holds the calls in its own offline queue, which has no timeout (a hang
  // before the queue's own deadline); paused: the nodes' connections time the commands out.
  it.each([
    [
      'paused (SIGSTOP)',
      async () => {
        for (const n of cluster.nodes) n.pause()
      },
      async () => {
        for (const n of cluster.nodes) n.resume()
      },
    ],
    [
      'killed',
      () => Promise.all(cluster.nodes.map((n) => n.kill())),
      () => Promise.all(cluster.nodes.map((n) => n.restart())),
    ],
  ] as const)(
    '%s: add, addBulk, stats, schedule, unschedule, schedules and the dead-letter calls fail with E_UNAVAILABLE in about commandTimeout; adds work afterwards',
    async (_, fault, recover) => {
      await q.add('j', { i: 0 })
      await fault()
      await bothUnavailable(q)
      await deadLettersUnavailable(q)
      await bothUnavailable(q)
      await recover()
      await until('adds work again', () => q.add('j', { i: 1 }).then(Boolean, () => false), 30_000)
      await q.unschedule('late').catch(() => false)
    },
    90_000,
  )
})
