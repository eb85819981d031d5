import diagnostics from 'node:diagnostics_channel'
import type { Connection } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineQueue } from '../src/index.js'
import { connectTo, type Kind, until } from './helpers.js'

const quiet = { warn: () => {} }

describe.each(['standalone', 'cluster', 'sentinel'] as const)('defineQueue on %s', (kind: Kind) => {
  const ns = uniquePrefix('queue')
  let conn: Connection
  beforeAll(async () => {
    conn = await connectTo(kind, ns)
  })
  afterAll(async () => conn.close())

  it('refuses bad data naming the field, processes good data, sends schema-invalid jobs to the DLQ on first receipt', async () => {
    const q = defineQueue(conn, 'emails', {
      namespace: 'jobs',
      jobs: { welcome: z.object({ to: z.string(), n: z.number() }) },
      logger: quiet,
    })
    await expect(q.add('welcome', { to: 'a', n: 'x' as never })).rejects.toMatchObject({
      code: 'E_INVALID_PAYLOAD',
      details: { field: 'n' },
    })
    await expect(
      q.addBulk([
        { name: 'welcome', data: { to: 'ok', n: 1 } },
        { name: 'welcome', data: { to: 'b' } as never },
      ]),
    ).rejects.toMatchObject({ code: 'E_INVALID_PAYLOAD' })
    expect(await q.queue.count()).toBe(0)
    if (kind === 'cluster') expect((q.queue.opts.prefix as string).endsWith(':{emails}')).toBe(true)
    await q.addBulk([{ name: 'welcome', data: { to: 'b', n: 2 } }])
    const raw = await q.queue.add('welcome', { to: 'c' }) // a hand-made job that skips validation
    const seen: number[] = []
    const w = q.process({ welcome: async (job) => void seen.push(job.data.n) })
    await w.waitUntilReady()
    await until('the DLQ entry', async () => seen.length === 1 && (await q.deadLetters.count()) === 1)
    expect(seen).toEqual([2])
    const [dead] = await q.deadLetters.list()
    expect(dead).toMatchObject({
      name: 'welcome',
      data: { to: 'c' },
      sourceId: raw.id,
      code: 'E_INVALID_PAYLOAD',
      queue: 'emails',
    })
    expect(dead?.attempts).toHaveLength(1)
    expect(dead?.reason).toContain('field "n"')
    await until(
      'raw job failed',
      async () =>
        (await raw.getState?.()) === 'failed' || (await q.queue.getJobState(raw.id as string)) === 'failed',
    )
    await q.close()
    await q.close()
  })

  it('retries with backoff, then moves the job with its attempt history to the DLQ; replay completes it once; purge', async () => {
    const q = defineQueue(conn, 'poison', {
      namespace: 'jobs',
      jobs: { charge: z.object({ amount: z.number() }) },
      defaults: { attempts: 3, backoff: { type: 'exponential', delay: 20, jitter: 0.2 } },
      logger: quiet,
    })
    const retried: number[] = []
    const onRetry = (m: unknown) => {
      const msg = m as { queue: string; delayMs: number }
      if (msg.queue === 'poison') retried.push(msg.delayMs)
    }
    diagnostics.subscribe('cache:queue:retried', onRetry)
    let healthy = false
    const runs: Array<{ amount: number; attempt: number }> = []
    const w = q.process({
      charge: async (job) => {
        runs.push({ amount: job.data.amount, attempt: job.attempt })
        if (!healthy) throw new Error(`card declined ${job.attempt}`)
        return 'ok'
      },
    })
    const id = await q.add('charge', { amount: 5 })
    await until('dead letter', async () => (await q.deadLetters.count()) === 1)
    diagnostics.unsubscribe('cache:queue:retried', onRetry)
    expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3])
    expect(retried).toHaveLength(2)
    // exponential: 20ms × 2^retry, ±20%
    expect(retried[0]).toBeGreaterThanOrEqual(16)
    expect(retried[0]).toBeLessThanOrEqual(24)
    expect(retried[1]).toBeGreaterThanOrEqual(32)
    expect(retried[1]).toBeLessThanOrEqual(48)
    const [dead] = await q.deadLetters.list({ name: 'charge' })
    expect(dead).toMatchObject({ sourceId: id, data: { amount: 5 }, reason: 'card declined 3' })
    expect(dead?.attempts.map((a) => a.error)).toEqual([
      'card declined 1',
      'card declined 2',
      'card declined 3',
    ])
    for (const a of dead?.attempts ?? []) {
      expect(a.stack).toContain('card declined')
      expect(a.failedAt).toBeGreaterThanOrEqual(a.startedAt)
    }
    expect(await q.deadLetters.inspect(dead?.id as string)).toEqual(dead)
    expect(await q.deadLetters.list({ name: 'other' })).toEqual([])
    expect(await q.deadLetters.list({ since: Date.now() + 60_000 })).toEqual([])

    healthy = true
    const first = await q.deadLetters.replay({ ids: [dead?.id as string] })
    const second = await q.deadLetters.replay({ ids: [dead?.id as string] })
    expect(first).toMatchObject({ replayed: 1, skipped: 0 })
    expect(second).toMatchObject({ replayed: 0, skipped: 1 })
    await until(
      'replayed job completed',
      async () => (await q.queue.getJobState(first.ids[0] as string)) === 'completed',
    )
    expect(runs.filter((r) => r.attempt === 1)).toHaveLength(2) // the original first attempt and the replay
    expect(await q.deadLetters.count()).toBe(0)

    // purge by filter and all; replay by filter
    healthy = false
    await q.add('charge', { amount: 7 })
    await q.add('charge', { amount: 8 })
    await until('two dead letters', async () => (await q.deadLetters.count()) === 2)
    expect(await q.deadLetters.purge({ filter: { reason: /declined/, name: 'nope' } })).toBe(0)
    const eight = (await q.deadLetters.list()).find((d) => (d.data as { amount: number }).amount === 8)
    expect(await q.deadLetters.purge({ ids: [eight?.id as string] })).toBe(1)
    healthy = true
    expect(await q.deadLetters.replay({ filter: { reason: 'declined' } })).toMatchObject({ replayed: 1 })
    await until('drained', async () => (await q.queue.getJobCounts('completed')).completed === 2)
    healthy = false
    await q.add('charge', { amount: 9 })
    await until('a dead letter', async () => (await q.deadLetters.count()) === 1)
    expect(await q.deadLetters.purge({ all: true })).toBe(1)
    await expect(q.deadLetters.replay({} as never)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await w.close()
    await q.close()
  })

  it("a closed worker's connection is closed with it, not kept until the queue closes", async () => {
    const q = defineQueue(conn, 'conns', { namespace: 'jobs', jobs: { j: z.object({}) }, logger: quiet })
    const statusOf = (w: { worker: { opts: { connection: unknown } } }) =>
      (w.worker.opts.connection as { status: string }).status
    const first = q.process({ j: async () => {} })
    await first.waitUntilReady()
    await first.close()
    // 'end' for a Redis; a disconnected Cluster may rest at 'close' (it reconnects from neither)
    const closed = (w: typeof first) => ['end', 'close'].includes(statusOf(w)) || undefined
    await until('the first worker connection closed', () => closed(first))
    const second = q.process({ j: async () => {} })
    await second.waitUntilReady()
    await q.add('j', {})
    await until('the job ran', async () => (await q.queue.getCompletedCount()) === 1 || undefined)
    expect(statusOf(second)).toBe('ready')
    await q.close()
    await until('the second worker connection closed', () => closed(second))
  })

  it('a non-retryable error goes to the DLQ at once', async () => {
    class Fatal extends Error {}
    const q = defineQueue(conn, 'fatal', {
      namespace: 'jobs',
      jobs: { x: z.object({}) },
      defaults: { attempts: 5, backoff: { delay: 10 } },
      deadLetter: { after: 'attempts', nonRetryable: (e) => e instanceof Fatal },
      logger: quiet,
    })
    let runs = 0
    q.process({
      x: async () => {
        runs++
        throw new Fatal('no point retrying')
      },
    })
    const id = await q.add('x', {})
    await until('dead letter', async () => (await q.deadLetters.count()) === 1)
    expect(runs).toBe(1)
    expect((await q.deadLetters.list())[0]).toMatchObject({ sourceId: id, reason: 'no point retrying' })
    await until('failed', async () => (await q.queue.getJobState(id)) === 'failed')
    await q.close()
  })

  it('a timeout aborts the signal and fails the attempt with E_JOB_TIMEOUT; a handler ignoring it is reported a zombie', async () => {
    const q = defineQueue(conn, 'slow', {
      namespace: 'jobs',
      jobs: { polite: z.object({}), rude: z.object({}) },
      defaults: { attempts: 1, timeout: 100 },
      logger: quiet,
    })
    const zombies: unknown[] = []
    const onZombie = (m: unknown) => {
      if ((m as { queue: string }).queue === 'slow') zombies.push(m)
    }
    diagnostics.subscribe('cache:queue:zombie', onZombie)
    let aborted: unknown
    let rudeFinished = false
    const progress: unknown[] = []
    q.process(
      {
        polite: (_job, { signal, progress: report }) =>
          new Promise((_, reject) => {
            void report(50).then(() => progress.push(50))
            signal.addEventListener('abort', () => {
              aborted = signal.reason
              reject(signal.reason)
            })
          }),
        rude: async () => {
          await new Promise((r) => setTimeout(r, 400))
          rudeFinished = true
          return 'too late'
        },
      },
      { concurrency: 2, zombieGrace: 50 },
    )
    const polite = await q.add('polite', {})
    const rude = await q.add('rude', {})
    await until('both dead', async () => (await q.deadLetters.count()) === 2)
    expect(aborted).toMatchObject({ code: 'E_JOB_TIMEOUT', timeoutMs: 100 })
    expect(progress).toEqual([50])
    const dead = await q.deadLetters.list()
    expect(dead.map((d) => d.code)).toEqual(['E_JOB_TIMEOUT', 'E_JOB_TIMEOUT'])
    await until('zombie reported', () => zombies.length === 1)
    expect(zombies[0]).toMatchObject({ id: rude, name: 'rude', graceMs: 50 })
    await until('rude finished', () => rudeFinished)
    expect(await q.queue.getJobState(rude)).toBe('failed') // its late result was discarded
    expect(await q.queue.getJobState(polite)).toBe('failed')
    const stats = await q.stats()
    expect(stats.totals).toMatchObject({ timeouts: 2, zombies: 1, deadLettered: 2 })
    diagnostics.unsubscribe('cache:queue:zombie', onZombie)
    await q.close()
  })

  it('close({ timeout }) waits for in-flight jobs, then aborts the ones still running past it', async () => {
    const q = defineQueue(conn, 'shutdown', {
      namespace: 'jobs',
      jobs: { quick: z.object({}), stuck: z.object({}) },
      defaults: { attempts: 1 },
      logger: quiet,
    })
    let quickDone = false
    const quick = q.process({
      quick: async () => {
        await new Promise((r) => setTimeout(r, 100))
        quickDone = true
      },
      stuck: async () => undefined,
    })
    await q.add('quick', {})
    await until('quick started', async () => (await q.queue.getJobCounts('active')).active === 1)
    await quick.close({ timeout: '5s' })
    expect(quickDone).toBe(true) // waited for it
    let reason: unknown
    let started!: () => void
    const running = new Promise<void>((r) => {
      started = r
    })
    const stuck = q.process({
      quick: async () => undefined,
      stuck: (_job, { signal }) =>
        new Promise((_, reject) => {
          started()
          signal.addEventListener('abort', () => {
            reason = signal.reason
            reject(new Error('aborted'))
          })
        }),
    })
    await q.add('stuck', {})
    await running
    const t0 = Date.now()
    await stuck.close({ timeout: 200 })
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(reason).toBeDefined()
    await q.close()
  })

  it('close({ timeout }) returns even when a handler ignores its aborted signal and never settles', async () => {
    const q = defineQueue(conn, 'deaf', {
      namespace: 'jobs',
      jobs: { deaf: z.object({}) },
      defaults: { attempts: 1 },
      logger: quiet,
    })
    let started!: () => void
    const running = new Promise<void>((r) => {
      started = r
    })
    let aborted = false
    const w = q.process({
      deaf: (_job, { signal }) => {
        signal.addEventListener('abort', () => {
          aborted = true
        })
        started()
        return new Promise(() => {}) // never settles, whatever the signal says
      },
    })
    await q.add('deaf', {})
    await running
    const closed = w.close({ timeout: 300 }).then(() => 'closed')
    const outcome = await Promise.race([
      closed,
      new Promise((r) => setTimeout(() => r('hung'), 15_000).unref()),
    ])
    expect(outcome).toBe('closed')
    expect(aborted).toBe(true)
    expect(await w.close()).toBeUndefined() // idempotent: the same settled close
    await q.close()
  })

  it('connection errors are left to ioredis/BullMQ to retry (never thrown); log lines; asyncDispose closes', async () => {
    const q = defineQueue(conn, 'errors', { namespace: 'jobs', jobs: { x: z.object({}) }, logger: quiet })
    const logged = new Promise<void>((resolve) => {
      q.process({
        x: async (job, { log }) => {
          await log('hello from the handler')
          resolve()
          return job.id
        },
      })
    })
    const id = await q.add('x', {})
    await logged
    expect((await q.queue.getJobLogs(id)).logs).toContain('hello from the handler')
    const w = q.process({ x: async () => undefined })
    expect(() => {
      q.queue.emit('error', new Error('ECONNRESET'))
      q.deadLetters.queue.emit('error', new Error('ECONNRESET'))
      w.worker.emit('error', new Error('ECONNRESET'))
    }).not.toThrow()
    // BullMQ's stalled check reports a job taken back from a lost worker: counted and published
    const stalled: unknown[] = []
    const onStalled = (m: unknown) => stalled.push(m)
    diagnostics.subscribe('cache:queue:stalled', onStalled)
    w.worker.emit('stalled', 'job-7', 'active')
    diagnostics.unsubscribe('cache:queue:stalled', onStalled)
    expect(stalled).toEqual([{ queue: 'errors', id: 'job-7' }])
    expect((await q.stats()).totals.stalled).toBe(1)
    await w[Symbol.asyncDispose]()
    await q[Symbol.asyncDispose]()
  })

  it('schedules repeatable jobs idempotently (every and cron)', async () => {
    const q = defineQueue(conn, 'cron', {
      namespace: 'jobs',
      jobs: { digest: z.object({ userId: z.string() }) },
      logger: quiet,
    })
    const got: string[] = []
    q.process({ digest: async (job) => void got.push(job.data.userId) })
    expect(await q.schedule('digest', { every: 100 }, { userId: 'u1' })).toBe('digest')
    expect(await q.schedule('digest', { every: 100 }, { userId: 'u1' })).toBe('digest')
    await q.schedule('digest', { cron: '0 8 * * *', tz: 'Europe/Paris' }, { userId: 'u2' }, { id: 'morning' })
    await expect(q.schedule('digest', { every: 100 }, { userId: 3 } as never)).rejects.toMatchObject({
      code: 'E_INVALID_PAYLOAD',
    })
    await expect(q.schedule('digest', { cron: 'not a cron at all' }, { userId: 'x' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    const list = await q.schedules()
    expect(list.map((s) => s.id).sort()).toEqual(['digest', 'morning'])
    expect(list.find((s) => s.id === 'morning')).toMatchObject({ cron: '0 8 * * *', tz: 'Europe/Paris' })
    await until('three runs', () => got.length >= 3)
    expect(new Set(got)).toEqual(new Set(['u1']))
    expect(await q.unschedule('digest')).toBe(true)
    expect(await q.unschedule('morning')).toBe(true)
    expect(await q.schedules()).toEqual([])
    await q.close()
  })

  it('stats: counts per state, throughput, wait and run percentiles, capacity', async () => {
    const q = defineQueue(conn, 'stats', {
      namespace: 'jobs',
      jobs: { t: z.object({ i: z.number() }) },
      logger: quiet,
    })
    await q.addBulk(Array.from({ length: 50 }, (_, i) => ({ name: 't' as const, data: { i } })))
    expect((await q.stats()).counts.waiting).toBe(50)
    const w = q.process({ t: async () => new Promise((r) => setTimeout(r, 2)) }, { concurrency: 8 })
    await until('done', async () => (await q.stats()).counts.completed === 50)
    const s = await q.stats({ targetWait: 100 })
    expect(s.totals).toMatchObject({ added: 50, completed: 50, failed: 0 })
    expect(s.throughput.completed).toBeGreaterThan(0)
    expect(s.arrivalRate).toBeGreaterThan(0)
    expect(s.wait.samples).toBe(50)
    expect(s.run.p50).toBeGreaterThanOrEqual(1)
    expect(s.run.p99).toBeGreaterThanOrEqual(s.run.p50)
    expect(s.capacity?.slots).toBeGreaterThanOrEqual(1)
    await w.close({ timeout: '5s' })
    await w.close()
    await q.close()
  })

  it('diagnostics: completed and failed messages carry runMs and waitMs (enqueue to attempt start)', async () => {
    const q = defineQueue(conn, 'timed', {
      namespace: 'jobs',
      jobs: { t: z.object({ fail: z.boolean() }) },
      defaults: { attempts: 2, backoff: { type: 'fixed', delay: 50, jitter: 0 } },
      logger: quiet,
    })
    type Msg = { queue: string; id: string; attempt: number; runMs: number; waitMs: number; code?: string }
    const completed: Msg[] = []
    const failed: Msg[] = []
    const onCompleted = (m: unknown) => void ((m as Msg).queue === 'timed' && completed.push(m as Msg))
    const onFailed = (m: unknown) => void ((m as Msg).queue === 'timed' && failed.push(m as Msg))
    diagnostics.subscribe('cache:queue:completed', onCompleted)
    diagnostics.subscribe('cache:queue:failed', onFailed)
    const beforeAdd = Date.now()
    const ok = await q.add('t', { fail: false })
    const bad = await q.add('t', { fail: true })
    const added = Date.now()
    await new Promise((r) => setTimeout(r, 150)) // the jobs wait at least this long: no worker yet
    const started = Date.now()
    const w = q.process({
      t: async (job) => {
        await new Promise((r) => setTimeout(r, 20))
        if (job.data.fail) throw new Error('refused')
      },
    })
    await until('both settled', async () => completed.length === 1 && failed.length === 2)
    const received = Date.now()
    diagnostics.unsubscribe('cache:queue:completed', onCompleted)
    diagnostics.unsubscribe('cache:queue:failed', onFailed)
    const [c] = completed
    expect(c).toMatchObject({ id: ok, attempt: 1 })
    expect(c?.waitMs).toBeGreaterThanOrEqual(started - added)
    expect(c?.waitMs).toBeLessThanOrEqual(received - beforeAdd)
    expect(c?.runMs).toBeGreaterThanOrEqual(19)
    expect(failed.map((f) => [f.id, f.attempt])).toEqual([
      [bad, 1],
      [bad, 2],
    ])
    for (const f of failed) {
      expect(f.runMs).toBeGreaterThanOrEqual(19)
      expect(f.waitMs).toBeGreaterThanOrEqual(started - added)
      expect(f.waitMs).toBeLessThanOrEqual(received - beforeAdd)
    }
    // the second attempt's wait includes the first attempt and its 50 ms backoff
    expect(failed[1]!.waitMs).toBeGreaterThanOrEqual(failed[0]!.waitMs + 50)
    await w.close()
    await q.close()
  })
})

describe('options and start-up checks', () => {
  const ns = uniquePrefix('queue')
  let conn: Connection
  beforeAll(async () => {
    conn = await connectTo('standalone', ns)
  })
  afterAll(async () => conn.close())

  it('bad options fail at construction naming the field', () => {
    const jobs = { a: z.object({}) }
    expect(() => defineQueue(conn, 'x', { jobs, defaults: { attempts: 0 } })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field: 'defaults.attempts' }),
    )
    expect(() => defineQueue(conn, 'x', { jobs, defaults: { timeout: '5 parsecs' } })).toThrow(
      expect.objectContaining({ field: 'defaults.timeout' }),
    )
    expect(() => defineQueue(conn, 'x', { jobs, nope: 1 } as never)).toThrow(
      expect.objectContaining({ field: 'nope' }),
    )
    expect(() => defineQueue(conn, 'x:y', { jobs })).toThrow(expect.objectContaining({ field: 'name' }))
    expect(() => defineQueue(conn, 'x', { jobs: { a: 1 } as never })).toThrow(
      expect.objectContaining({ field: 'jobs.a' }),
    )
    const q = defineQueue(conn, 'x', { jobs, checks: false })
    expect(() => q.process({ a: async () => 1 }, { concurrency: 0 })).toThrow(
      expect.objectContaining({ field: 'concurrency' }),
    )
    expect(() => q.process({ a: async () => 1 }, { perTenant: { limit: 5 } })).toThrow(
      expect.objectContaining({ field: 'perTenant' }),
    )
    expect(() => q.process({} as never)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'handlers.a' }),
    )
    return q.close()
  })

  it('add options are validated and mapped', async () => {
    const q = defineQueue(conn, 'opts', { jobs: { a: z.object({}) }, checks: false })
    await expect(q.add('a', {}, { jobId: '12' })).rejects.toMatchObject({ field: 'options.jobId' })
    await expect(q.add('a', {}, { delay: -1 })).rejects.toMatchObject({ field: 'options.delay' })
    const id = await q.add(
      'a',
      {},
      { jobId: 'custom-1', priority: 3, delay: '1m', tenant: 't1', timeout: '2s', attempts: 2 },
    )
    expect(id).toBe('custom-1')
    const job = await q.queue.getJob(id)
    expect(job?.opts).toMatchObject({
      priority: 3,
      delay: 60_000,
      tenant: 't1',
      timeoutMs: 2000,
      attempts: 2,
    })
    expect(await q.queue.getJobState(id)).toBe('delayed')
    await q.close()
  })
})
