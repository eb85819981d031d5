import type { Connection } from '@cache/client'
import { Metrics } from '@cache/metrics'
import { defineQueue } from '@cache/queue'
import { SessionManager } from '@cache/session'
import { uniquePrefix, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { z } from 'zod'
import type { QueueLatency, QueueState, TenantSessions } from '../src/index.js'
import { connectTo, ensureBuilt, RUNNERS, target } from './helpers.js'

const redis = inject('redis')
beforeAll(() => ensureBuilt(), 900_000)

interface DeadLetterRow {
  id: string
  name: string
  sourceId: string
  code: string | null
  reason: string
  attempts: number
}

// Every test twice: the built bin end to end, and run() in-process (where coverage is measured).
describe.each(RUNNERS)('%s', (_mode, cache) => {
  describe.each(['standalone', 'cluster'] as const)('queues and sessions on %s', (kind) => {
    const namespace = uniquePrefix('cli')
    const flags = [...target(redis, kind), '--namespace', namespace]
    const PAYLOAD_SECRET = `card-${uniquePrefix('data')}`
    let conn: Connection

    beforeAll(async () => {
      conn = await connectTo(redis, kind, namespace)
      // Queue "mail": 2 jobs complete, 2 fail their only attempt into the dead-letter queue; "idle" is empty.
      const mail = defineQueue(conn, 'mail', {
        jobs: { send: z.object({ to: z.string(), card: z.string() }) },
        defaults: { attempts: 1 },
        checks: false,
      })
      const idle = defineQueue(conn, 'idle', { jobs: { x: z.object({}) }, checks: false })
      await idle.add('x', {})
      const w = mail.process({
        send: async (job) => {
          if (job.data.to === 'bad') throw new Error('mailbox unavailable')
        },
      })
      for (const to of ['a', 'bad', 'b', 'bad']) await mail.add('send', { to, card: PAYLOAD_SECRET })
      await waitFor(
        '2 completed, 2 dead',
        async () => {
          const c = await mail.queue.getJobCounts('completed')
          return c.completed === 2 && (await mail.deadLetters.count()) === 2
        },
        { timeoutMs: 30_000 },
      )
      await w.close()
      await mail.close()
      await idle.close()
      // Sessions: acme has 3 created, 1 destroyed (2 users); beta 1; "other" namespace is separate.
      const sessions = new SessionManager(conn, { sweepInterval: false })
      const a1 = await sessions.create({ tenant: 'acme', userId: 'ada' })
      await sessions.create({ tenant: 'acme', userId: 'ada' })
      await sessions.create({ tenant: 'acme', userId: 'bob' })
      await sessions.destroy(a1.id, { tenant: 'acme' })
      const b1 = await sessions.create({ tenant: 'beta', userId: 'cy' })
      await sessions.close()
      sessionIds.push(a1.id, b1.id)
    }, 60_000)
    const sessionIds: string[] = []
    afterAll(() => conn.close())

    it('queues: counts per state of every queue; dead letters exit 1; --json and a table', async () => {
      const r = await cache(['queues', '--json', ...flags])
      expect(r.code, r.stderr).toBe(1)
      const { namespace: ns, queues } = r.json<{ namespace: string; queues: QueueState[] }>()
      expect(ns).toBe('queue')
      expect(queues.map((q) => q.name)).toEqual(['idle', 'mail'])
      expect(queues[1]).toMatchObject({ name: 'mail', completed: 2, waiting: 0, active: 0, deadLetter: 2 })
      expect(queues[0]).toMatchObject({ name: 'idle', waiting: 1, deadLetter: 0 })
      const text = await cache(['queues', ...flags])
      expect(text.code).toBe(1)
      expect(text.stdout).toMatch(
        /QUEUE\s+WAITING\s+ACTIVE\s+DELAYED\s+PRIORITIZED\s+COMPLETED\s+FAILED\s+DEAD LETTERS/,
      )
      expect(text.stdout).toMatch(/mail\s+0\s+0\s+0\s+0\s+2\s+\d+\s+2/)
      const none = await cache(['queues', '--queues-namespace', 'elsewhere', ...flags])
      expect(none.code).toBe(0)
      expect(none.stdout.trim()).toBe('no queues in elsewhere')
    })

    it('queues: WAIT P99 and RUN P99 from the histograms of a Metrics store; without one, no columns', async () => {
      const none = await cache(['queues', '--metrics', 'ops-metrics', '--json', ...flags])
      expect(none.json<{ metrics: string | null }>().metrics).toBeNull()
      expect((await cache(['queues', '--metrics', 'ops-metrics', ...flags])).stdout).not.toContain('P99')
      // What instrument() records from cache:queue:completed, written here through the public Metrics API.
      const metrics = new Metrics(conn, { namespace: 'ops-metrics' })
      const wait = metrics.histogram('cache_queue_wait_seconds', { labels: ['queue'] })
      const run = metrics.histogram('cache_queue_run_seconds', { labels: ['queue'] })
      for (let i = 1; i <= 100; i++) {
        wait.observe(i / 100, { queue: 'mail' }) // 10 ms … 1 s
        run.observe(i / 1000, { queue: 'mail' }) // 1 ms … 100 ms
      }
      await metrics.flush()
      await metrics.close()
      const r = await cache(['queues', '--metrics', 'ops-metrics', '--window', '1m', '--json', ...flags])
      const doc = r.json<{ metrics: string; windowMs: number; queues: Array<QueueState & QueueLatency> }>()
      expect(doc).toMatchObject({ metrics: 'ops-metrics', windowMs: 60_000 })
      const mail = doc.queues.find((q) => q.name === 'mail')!
      // The 99th of 100 observations, within the log buckets' 1%.
      expect(mail.waitP99Ms).toBeGreaterThan(970)
      expect(mail.waitP99Ms).toBeLessThan(1010)
      expect(mail.runP99Ms).toBeGreaterThan(97)
      expect(mail.runP99Ms).toBeLessThan(101)
      expect(doc.queues.find((q) => q.name === 'idle')).toMatchObject({ waitP99Ms: null, runP99Ms: null })
      const text = await cache(['queues', '--metrics', 'ops-metrics', ...flags])
      expect(text.stdout).toMatch(/DEAD LETTERS\s+WAIT P99\s+RUN P99/)
      expect(text.stdout).toMatch(/mail(\s+\d+){7}\s+(9\d\d(\.\d+)? ms|1\.0 s)\s+(9\d|100)(\.\d+)? ms/)
      expect(text.stdout).toMatch(/idle(\s+\d+){7}\s+-\s+-/)
      const bad = await cache(['queues', '--window', '15s', ...flags])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('--window must be a multiple of 10s')
    })

    it('queues dlq list: id, job, code, reason and attempts of each dead letter, never its data', async () => {
      const r = await cache(['queues', 'dlq', 'list', 'mail', '--json', ...flags])
      expect(r.code, r.stderr).toBe(1)
      const { queue, deadLetters } = r.json<{ queue: string; deadLetters: DeadLetterRow[] }>()
      expect(queue).toBe('mail')
      expect(deadLetters).toHaveLength(2)
      for (const d of deadLetters) {
        expect(d).toMatchObject({ name: 'send', reason: 'mailbox unavailable', attempts: 1 })
        expect(d.id).toBe(`dead-${d.sourceId}`)
      }
      expect(r.stdout).not.toContain(PAYLOAD_SECRET)
      const one = await cache(['queues', 'dlq', 'list', 'mail', '--limit', '1', '--json', ...flags])
      expect(one.json<{ deadLetters: DeadLetterRow[] }>().deadLetters).toHaveLength(1)
      const text = await cache(['queues', 'dlq', 'list', 'mail', ...flags])
      expect(text.stdout).toMatch(/ID\s+JOB\s+CODE\s+ATTEMPTS\s+DEAD AT\s+REASON/)
      expect(text.stdout).toContain('mailbox unavailable')
      expect(text.stdout).not.toContain(PAYLOAD_SECRET)
      const empty = await cache(['queues', 'dlq', 'list', 'idle', ...flags])
      expect(empty.code).toBe(0)
      expect(empty.stdout.trim()).toBe('no dead letters in idle')
    })

    it('queues dlq replay: asks first; "y" replays one, --all --yes the rest, a second replay skips', async () => {
      const list = await cache(['queues', 'dlq', 'list', 'mail', '--json', ...flags])
      const [first, second] = list.json<{ deadLetters: DeadLetterRow[] }>().deadLetters
      const no = await cache(['queues', 'dlq', 'replay', 'mail', '--id', first!.id, '--json', ...flags], {
        input: 'n\n',
      })
      expect(no.code).toBe(1)
      expect(no.json()).toMatchObject({ confirmed: false, replayed: 0 })
      const yes = await cache(['queues', 'dlq', 'replay', 'mail', '--id', first!.id, ...flags], {
        input: 'y\n',
      })
      expect(yes.code, yes.stderr).toBe(0)
      expect(yes.stdout.trim()).toBe('replayed 1, skipped 0')
      expect(yes.stderr).toContain('Replay 1 dead letters of mail?')
      const again = await cache([
        'queues',
        'dlq',
        'replay',
        'mail',
        '--id',
        first!.id,
        '--yes',
        '--json',
        ...flags,
      ])
      expect(again.json()).toMatchObject({ confirmed: true, replayed: 0, skipped: 1 })
      const all = await cache(['queues', 'dlq', 'replay', 'mail', '--all', '--yes', '--json', ...flags])
      expect(all.code, all.stderr).toBe(0)
      const res = all.json<{ replayed: number; ids: string[] }>()
      expect(res.replayed).toBe(1)
      // Both are back on "mail", waiting for a worker, and the dead-letter queue is empty.
      const q = defineQueue(conn, 'mail', { jobs: { send: z.object({ to: z.string() }) }, checks: false })
      try {
        expect(await q.deadLetters.count()).toBe(0)
        expect((await q.queue.getJobCounts('waiting')).waiting).toBe(2)
        expect((await q.queue.getJob(res.ids[0]!))?.data).toMatchObject({ to: 'bad' })
        expect(second!.sourceId).not.toBe(first!.sourceId)
        await q.queue.obliterate({ force: true })
      } finally {
        await q.close()
      }
    })

    it('queues: bad sub-commands and flags are usage errors (exit 2)', async () => {
      const runs = await Promise.all([
        cache(['queues', 'dlq', ...flags]),
        cache(['queues', 'dlq', 'list', ...flags]),
        cache(['queues', 'dlq', 'replay', 'mail', ...flags]),
        cache(['queues', 'dlq', 'list', 'mail', '--limit', '0', ...flags]),
        cache(['queues', 'dlq', 'list', 'mail', '--json', '--limit', 'x', ...flags]),
      ])
      for (const r of runs) expect(r.code, r.stdout + r.stderr).toBe(2)
      expect(runs[0]!.stderr).toContain('expects "dlq list <queue>"')
      expect(runs[1]!.stderr).toContain('<queue> is missing')
      expect(runs[2]!.stderr).toContain('--id or --all is required')
      expect(runs[3]!.stderr).toContain('--limit must be between 1 and 10000')
      expect(runs[4]!.json()).toMatchObject({ ok: false, error: { code: 'E_USAGE' } })
    })

    it('sessions: active sessions, users, creations and revocations per tenant; no session id printed', async () => {
      const r = await cache(['sessions', '--json', ...flags])
      expect(r.code, r.stderr).toBe(0)
      const { namespace: ns, tenants } = r.json<{ namespace: string; tenants: TenantSessions[] }>()
      expect(ns).toBe('sess')
      expect(tenants).toEqual([
        { tenant: 'acme', activeSessions: 2, activeUsers: 2, creations: 3, revocations: 1 },
        { tenant: 'beta', activeSessions: 1, activeUsers: 1, creations: 1, revocations: 0 },
      ])
      const text = await cache(['sessions', ...flags])
      expect(text.stdout).toMatch(/TENANT\s+ACTIVE\s+ACTIVE USERS\s+CREATED\s+REVOKED/)
      expect(text.stdout).toMatch(/acme\s+2\s+2\s+3\s+1/)
      for (const id of sessionIds) expect(r.stdout + text.stdout).not.toContain(id)
      const none = await cache(['sessions', '--sessions-namespace', 'nobody', ...flags])
      expect(none.stdout.trim()).toBe('no sessions in nobody')
      const bad = await cache(['sessions', '--sessions-namespace', 'bad namespace!', ...flags])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('--sessions-namespace')
    })
  })
})
