import { type ChildProcess, spawn } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import { type Connection, connect, hashSlot } from '@cache/client'
import {
  type ClusterTopology,
  type SentinelTopology,
  type StandaloneTopology,
  startCluster,
  startSentinel,
  startStandalone,
  uniquePrefix,
} from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { z } from 'zod'
import { defineQueue } from '../src/index.js'
import { until } from './helpers.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url))
const stallFixture = fileURLToPath(new URL('./fixtures/stall-worker.ts', import.meta.url))
const TOTAL = 10_000

/** Everything each worker process printed so far (a line may arrive with `ready`, before a test listens). */
const output = new WeakMap<ChildProcess, string>()

/** Resolves once `child` has printed `text`. */
function printed(child: ChildProcess, text: string): Promise<true> {
  return new Promise((resolve) => {
    const check = () => {
      if (!output.get(child)?.includes(text)) return false
      child.stdout?.off('data', onData)
      resolve(true)
      return true
    }
    const onData = () => setImmediate(check)
    if (!check()) child.stdout?.on('data', onData)
  })
}

function startWorker(
  connectOptions: Record<string, unknown>,
  seen: string,
  script = fixture,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@cache/source',
      '--import',
      'tsx',
      script,
      JSON.stringify({ connect: connectOptions, seen }),
    ],
    // stdin stays open while this process lives: the worker exits when it closes, so a test that times out
    // (or a vitest fork that dies) leaves no worker process behind retrying a stopped server.
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  )
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr?.on('data', (c) => {
      err += c
    })
    child.stdout?.on('data', (c) => {
      output.set(child, (output.get(child) ?? '') + String(c))
      if (String(c).includes('ready')) resolve(child)
    })
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${err}`)))
  })
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** Jobs completed in the source queue. */
async function completed(q: { queue: { getJobCounts(s: 'completed'): Promise<Record<string, number>> } }) {
  return (await q.queue.getJobCounts('completed')).completed ?? 0
}

/**
 * 4 worker processes on TOTAL jobs, one SIGKILLed every 400 ms and restarted; `fault` (a failover) runs once
 * a third of the jobs are done. Every job must complete, each run is counted in `seen`: a job run twice (a
 * kill or a failover between the side effect and BullMQ's completion) is a duplicate, a job never run is lost.
 */
async function crashRun(
  conn: Connection,
  options: Record<string, unknown>,
  children: ChildProcess[],
  kind: string,
  fault?: () => Promise<unknown>,
): Promise<void> {
  const seen = conn.keys.key('seen')
  const q = defineQueue(conn, 'crash', {
    namespace: 'jobs',
    jobs: { work: z.object({ i: z.number() }) },
    defaults: { attempts: 5, removeOnComplete: { count: 50_000 } },
    checks: false,
  })
  for (let i = 0; i < TOTAL; i += 2_500)
    await q.addBulk(Array.from({ length: 2_500 }, (_, k) => ({ name: 'work' as const, data: { i: i + k } })))
  // Acknowledged means replicated where there is a replica: a failover must not lose the adds themselves.
  if (fault) await conn.send(['WAIT', '1', '10000'])
  const config = fault ? { ...options, durable: true } : options
  children.push(...(await Promise.all([0, 1, 2, 3].map(() => startWorker(config, seen)))))
  let kills = 0
  const victim = async () => {
    while ((await completed(q)) < TOTAL && kills < 20) {
      await new Promise((r) => setTimeout(r, 400))
      await kill(children[0] as ChildProcess)
      kills++
      children[0] = await startWorker(config, seen)
    }
  }
  const killing = victim()
  let faults = 0
  if (fault) {
    await until('a third done', async () => (await completed(q)) >= TOTAL / 3, 240_000)
    await fault()
    faults++
  }
  await until('all completed', async () => (await completed(q)) >= TOTAL, 240_000)
  await killing
  const counts = await conn.send<string[]>(['HVALS', seen], { key: seen })
  const runs = counts.map(Number)
  const duplicates = runs.reduce((a, b) => a + b, 0) - runs.length
  console.log(
    `[queue] SIGKILL test on ${kind}: ${TOTAL} jobs, ${kills} kills, ${faults} failovers, ${duplicates} duplicate runs`,
  )
  expect(runs).toHaveLength(TOTAL) // none lost
  expect(runs.every((n) => n >= 1)).toBe(true)
  expect(kills).toBeGreaterThanOrEqual(2)
  const c = await q.queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed')
  expect(c).toMatchObject({ completed: TOTAL, failed: 0, waiting: 0, active: 0, delayed: 0 })
  expect(await q.deadLetters.count()).toBe(0)
  await Promise.all(children.splice(0).map(kill))
  await q.close()
}

/**
 * One job whose worker process is SIGKILLed mid-run again and again: after maxStalledCount (1) + 1 stalls
 * BullMQ fails it without a handler, and the next worker moves it to the DLQ with every stall on record.
 */
async function stallsIntoDeadLetters(
  conn: Connection,
  options: Record<string, unknown>,
  children: ChildProcess[],
): Promise<void> {
  const q = defineQueue(conn, 'stall', {
    namespace: 'jobs',
    jobs: { hang: z.object({ n: z.number() }) },
    checks: false,
  })
  const id = await q.add('hang', { n: 7 })
  let kills = 0
  let done = false
  let timedOut: unknown
  const dead = until('dead letter', async () => (await q.deadLetters.count()) > 0, 90_000).then(
    () => {
      done = true
      return false
    },
    (err) => {
      timedOut = err
      done = true
      return false
    },
  )
  // Each round a fresh worker process takes the job back (stalled check) and starts it; it is killed
  // mid-run. With maxStalledCount 1 the second stall marks the job failed: the next worker moves it.
  while (!done && kills < 5) {
    const child = await startWorker(options, '', stallFixture)
    children.push(child)
    if (await Promise.race([printed(child, `running ${id}`), dead])) {
      await kill(child)
      kills++
    }
  }
  await dead
  if (timedOut) {
    const j = await q.queue.getJob(id)
    throw new Error(
      `${timedOut}: ${kills} kills, job ${await j?.getState()}, stalled ${j?.stalledCounter}, started ${j?.attemptsStarted}, ${j?.deferredFailure ?? '-'}, ${j?.failedReason ?? '-'}, dlq ${await q.deadLetters.count()}`,
    )
  }
  expect(kills).toBe(2)
  const [letter] = await q.deadLetters.list()
  expect(letter).toMatchObject({ sourceId: id, name: 'hang', data: { n: 7 }, code: 'E_JOB_STALLED' })
  expect(letter!.reason).toMatch(/stalled 2 times, more than maxStalledCount 1/)
  expect(letter!.attempts.map((a) => a.code)).toEqual(['E_JOB_STALLED', 'E_JOB_STALLED', 'E_JOB_STALLED'])
  expect(letter!.attempts.map((a) => a.errorName)).toEqual([
    'JobStalledError',
    'JobStalledError',
    'JobStalledError',
  ])
  const source = await q.queue.getJob(id)
  expect(await source?.getState()).toBe('failed')
  expect(source?.failedReason).toBe('job stalled more than allowable limit')
  const { replayed } = await q.deadLetters.replay({ ids: [letter!.id] })
  expect(replayed).toBe(1)
  expect(await q.deadLetters.count()).toBe(0)
  await Promise.all(children.splice(0).map(kill))
  await q.queue.obliterate({ force: true })
  await q.close()
}

/** Runs a batch, applies `fault`, adds a second batch (retrying while Redis is away): the same worker processes it. */
async function resumesAfter(conn: Connection, name: string, fault: () => Promise<unknown>): Promise<void> {
  const q = defineQueue(conn, name, {
    namespace: 'jobs',
    jobs: { t: z.object({ i: z.number() }) },
    checks: false,
  })
  const got = new Set<number>()
  const w = q.process({ t: async (job) => void got.add(job.data.i) }, { concurrency: 4 })
  await w.waitUntilReady()
  await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 't' as const, data: { i } })))
  await until('first batch', () => got.size === 20)
  await fault()
  await until(
    'added after the fault',
    async () => {
      try {
        await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 't' as const, data: { i: 100 + i } })))
        return true
      } catch {
        return false
      }
    },
    30_000,
  )
  await until('second batch processed by the same worker', () => got.size === 40, 30_000)
  await w.close()
  await q.close()
}

describe.each(['standalone', 'cluster'] as const)(
  '4 worker processes, one SIGKILLed repeatedly, on %s',
  (kind) => {
    const { standalone, cluster } = inject('redis')
    const ns = uniquePrefix('queue')
    const options: Record<string, unknown> =
      kind === 'cluster'
        ? { cluster: { nodes: cluster.nodes }, namespace: ns }
        : { url: standalone.url, namespace: ns }
    let conn: Connection
    const children: ChildProcess[] = []
    beforeAll(async () => {
      conn = await connect(options as never)
    })
    afterAll(async () => {
      await Promise.all(children.map(kill))
      await conn.close()
    })

    it('closeOnSignal: a worker process closes its queue and connection on SIGTERM and exits 0', async () => {
      const child = await startWorker(options, conn.keys.key('seen-term'))
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    })

    it(
      'a job whose worker is SIGKILLed more than maxStalledCount times lands in the DLQ with its stall history',
      () => stallsIntoDeadLetters(conn, options, children),
      120_000,
    )

    it('in-process: a job whose lock is lost twice is failed by BullMQ and moved to the DLQ by the worker', async () => {
      const q = defineQueue(conn, 'lost-lock', {
        namespace: 'jobs',
        jobs: { hang: z.object({ n: z.number() }) },
        checks: false,
      })
      const started: string[] = []
      const releases: Array<() => void> = []
      const w = q.process(
        {
          hang: async (job) => {
            started.push(job.id)
            await new Promise<void>((resolve) => releases.push(resolve))
          },
        },
        { concurrency: 4, lockDuration: 1_000, stalledInterval: 200, maxStalledCount: 1 },
      )
      await w.waitUntilReady()
      const id = await q.add('hang', { n: 1 })
      // Deleting the lock is what a dead worker does to it (it stops renewing): the stalled check takes it back.
      for (const round of [1, 2]) {
        await until(`attempt ${round} started`, () => started.length === round, 30_000)
        const lock = `${q.queue.toKey(id)}:lock`
        await conn.send(['DEL', lock], { key: lock })
      }
      await until('dead letter', async () => (await q.deadLetters.count()) === 1, 30_000)
      const [letter] = await q.deadLetters.list()
      expect(letter).toMatchObject({ sourceId: id, code: 'E_JOB_STALLED' })
      expect(letter!.attempts.map((a) => a.code)).toEqual(['E_JOB_STALLED', 'E_JOB_STALLED', 'E_JOB_STALLED'])
      expect(started).toEqual([id, id])
      expect((await q.stats()).totals).toMatchObject({ stalled: 2, deadLettered: 1 })
      for (const release of releases) release()
      await w.close({ timeout: '1s' })
      await q.queue.obliterate({ force: true })
      await q.close()
    }, 60_000)

    it(
      `completes ${TOTAL} jobs: each exactly once or counted as a duplicate, none lost`,
      () => crashRun(conn, options, children, kind),
      240_000,
    )
  },
)

describe('Redis restarts and start-up checks (own server)', () => {
  let server: StandaloneTopology
  let conn: Connection
  beforeAll(async () => {
    server = await startStandalone()
    conn = await connect({ url: server.url, namespace: uniquePrefix('queue') })
  })
  afterAll(async () => {
    await conn?.close()
    await server?.stop()
  })

  it('a worker resumes after Redis restarts, without a restart of the process', () =>
    resumesAfter(conn, 'restart', () => server.master.restart()))

  it('warns about an eviction policy other than noeviction, unbounded retention, and a refused CONFIG GET', async () => {
    await server.master.command(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru'])
    const warnings: string[] = []
    const events: unknown[] = []
    const onWarning = (m: unknown) => events.push(m)
    diagnostics.subscribe('cache:queue:warning', onWarning)
    try {
      const q = defineQueue(conn, 'warn', {
        jobs: { a: z.object({}) },
        defaults: { removeOnComplete: false },
        logger: { warn: (m) => warnings.push(m) },
      })
      const found = await q.check()
      expect(found.map((w) => w.code).sort()).toEqual(['maxmemory-policy', 'unbounded-retention'])
      expect(warnings.some((w) => w.includes('allkeys-lru'))).toBe(true)
      expect(events).toContainEqual(expect.objectContaining({ queue: 'warn', code: 'maxmemory-policy' }))
      await q.close()

      await server.master.command(['ACL', 'SETUSER', 'jobs', 'on', '>pw', '~*', '&*', '+@all', '-config'])
      const limited = await connect({
        url: `redis://jobs:pw@127.0.0.1:${server.master.port}`,
        namespace: 'acl',
      })
      const q2 = defineQueue(limited, 'warn', { jobs: { a: z.object({}) }, logger: { warn: () => {} } })
      expect((await q2.check()).map((w) => w.code)).toEqual(['config-refused'])
      await q2.close()
      await limited.close()
    } finally {
      diagnostics.unsubscribe('cache:queue:warning', onWarning)
      await server.master.command(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'])
    }
  })
})

describe('Sentinel failover (own topology)', () => {
  let topo: SentinelTopology
  let conn: Connection
  beforeAll(async () => {
    topo = await startSentinel()
    const info = topo.info() as { name: string; sentinels: Array<{ host: string; port: number }> }
    conn = await connect({
      sentinel: { name: info.name, sentinels: info.sentinels },
      namespace: uniquePrefix('queue'),
    })
  })
  afterAll(async () => {
    await conn?.close()
    await topo?.stop()
  })

  it('a worker resumes after a failover, without a restart of the process', () =>
    resumesAfter(conn, 'failover', () => topo.failover()))

  it('a failover under a steady stream of adds: no job id names two jobs; connections leave the old master', async () => {
    const jobs = { w: z.object({ i: z.number() }) }
    const producer = defineQueue(conn, 'stream', { namespace: 'jobs', jobs, checks: false })
    const consumer = defineQueue(conn, 'stream', { namespace: 'jobs', jobs, checks: false })
    const runs: Array<{ id: string; i: number }> = []
    const w = consumer.process(
      {
        w: async (job) => {
          runs.push({ id: job.id, i: job.data.i })
        },
      },
      { concurrency: 4 },
    )
    await w.waitUntilReady()
    const acked = new Map<number, string>()
    let producing = true
    const produce = (async () => {
      for (let i = 0; producing; i++) {
        // an add that hangs on the old master or fails is not acknowledged: only acked ones are counted
        await producer
          .add('w', { i })
          .then((id) => acked.set(i, id))
          .catch(() => {})
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await until('adds before the failover', () => acked.size >= 50)
    const oldPort = await topo.masterPort()
    const master = await topo.failover(60_000)
    // failoverDetector: the producer's idle connection moves to the new master without a write to tell it
    // (the ioredis connection the queue was given)
    const client = producer.queue.opts.connection as unknown as { stream?: { remotePort?: number } }
    await until('producer on the new master', () => client.stream?.remotePort === master.port, 10_000)
    expect(master.port).not.toBe(oldPort)
    const after = acked.size
    await until('adds after the failover', () => acked.size >= after + 50, 30_000)
    producing = false
    await produce
    await until('acked jobs run', () => new Set(runs.map((r) => r.i)).size >= acked.size - 5, 30_000)
    const byId = new Map<string, Set<number>>()
    for (const r of runs) byId.set(r.id, (byId.get(r.id) ?? new Set()).add(r.i))
    const reused = [...byId.values()].filter((s) => s.size > 1).length
    const ran = new Set(runs.map((r) => r.i))
    const lost = [...acked.keys()].filter((i) => !ran.has(i)).length
    console.log(
      `[queue] Sentinel failover under adds: ${acked.size} acked, ${runs.length} runs, ${runs.length - ran.size} duplicate runs, ${lost} acked jobs not run, ${reused} ids naming two jobs`,
    )
    // BullMQ's counter ids: the new master handed out again the ids its lost writes had used (27-116 a run)
    expect(reused).toBe(0)
    expect([...acked.values()].every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true)
    await w.close({ timeout: '1s' })
    await producer.queue.obliterate({ force: true })
    await producer.close()
    await consumer.close()
  }, 120_000)

  it('a job whose worker is SIGKILLed more than maxStalledCount times lands in the DLQ', async () => {
    const info = topo.info() as { name: string; sentinels: Array<{ host: string; port: number }> }
    const children: ChildProcess[] = []
    const options = {
      sentinel: { name: info.name, sentinels: info.sentinels },
      namespace: conn.keys.namespace,
    }
    try {
      await stallsIntoDeadLetters(conn, options, children)
    } finally {
      await Promise.all(children.map(kill))
    }
  }, 120_000)

  it(`4 worker processes, one SIGKILLed repeatedly, a failover mid-run: ${TOTAL} jobs, none lost`, async () => {
    const info = topo.info() as { name: string; sentinels: Array<{ host: string; port: number }> }
    const children: ChildProcess[] = []
    try {
      await crashRun(
        conn,
        { sentinel: { name: info.name, sentinels: info.sentinels }, namespace: conn.keys.namespace },
        children,
        'sentinel',
        () => topo.failover(),
      )
    } finally {
      await Promise.all(children.map(kill))
    }
  }, 300_000)
})

describe('Cluster failover (own topology)', () => {
  let topo: ClusterTopology
  let conn: Connection
  beforeAll(async () => {
    topo = await startCluster()
    const info = topo.info() as { nodes: Array<{ host: string; port: number }> }
    conn = await connect({ cluster: { nodes: info.nodes }, namespace: uniquePrefix('queue') })
  })
  afterAll(async () => {
    await conn?.close()
    await topo?.stop()
  })

  it('a worker resumes after the master of its slot fails over, without a restart of the process', () =>
    resumesAfter(conn, 'cfail', async () => {
      const master = await topo.masterForSlot(hashSlot(`${conn.keys.namespace}:jobs:{cfail}:x`))
      await topo.failover(master)
    }))
})
