/**
 * Invoices (a mutex whose fencing token the database checks), payments (a flaky provider behind the shared
 * CircuitBreaker), an LLM-style endpoint (per-user requests + a per-tenant token budget), jobs and activity.
 */
import { withDeadline } from '@cache/client'
import { rateLimitHeaders } from '@cache/ratelimit/http'
import type { Request, Response, Router } from 'express'
import { z } from 'zod'
import { requireUser } from './auth.js'
import type { Family } from './family.js'
import { HttpError, parse } from './http.js'
import { PaymentFailedError } from './payments.js'

/** Longest wait for BullMQ (ioredis) to acknowledge a job: an outage gives a 503, never a hang. */
const QUEUE_TIMEOUT_MS = 2_000

function userOf(req: Request) {
  return req.user as NonNullable<Request['user']>
}

/** Creates an invoice numbered under the tenant's mutex; the UPDATE applies only with a newer fencing token. */
export async function createInvoice(f: Family, tenant: string, contactId: string, amount: number) {
  return f.locks.using(`invoice-number:${tenant}`, { ttl: '5s', waitTimeout: '5s' }, async (lock) => {
    const token = lock.token
    const { rows } = await f.db.query<{ last_number: number }>(
      'update invoice_counter set last_number = last_number + 1, last_token = $2 where tenant = $1 and last_token < $2 returning last_number',
      [tenant, token],
    )
    const number = rows[0]?.last_number
    if (number === undefined)
      throw new HttpError(409, 'E_FENCED', 'a holder with a newer fencing token wrote first')
    await f.db.query(
      'insert into invoices (number, tenant, contact_id, amount, fencing_token) values ($1, $2, $3, $4, $5)',
      [number, tenant, contactId, amount, token],
    )
    return { number, fencingToken: token, tenant, contactId, amount }
  })
}

function limited(res: Response, result: Parameters<typeof rateLimitHeaders>[0], what: string): void {
  res.set(rateLimitHeaders(result))
  res
    .status(429)
    .json({ error: { code: 'E_RATE_LIMITED', message: `${what}: retry in ${result.retryAfterMs} ms` } })
}

/** Mounts invoices, payments, llm, jobs and activity routes. */
export function businessRoutes(f: Family, router: Router): void {
  router.post('/invoices', requireUser, async (req, res) => {
    const body = parse(
      z.object({
        contactId: z.string().regex(/^[a-z0-9-]{1,64}$/),
        amount: z.number().int().min(1).max(1e9),
      }),
      req.body,
    )
    const { tenant } = userOf(req)
    const invoice = await createInvoice(f, tenant, body.contactId, body.amount)
    res.status(201).json({ invoice })
  })

  router.post('/payments', requireUser, async (req, res) => {
    const body = parse(z.object({ invoiceNumber: z.number().int().min(1) }), req.body)
    const { tenant } = userOf(req)
    const { rows } = await f.db.query<{ amount: number; paid: boolean }>(
      'select amount, paid from invoices where tenant = $1 and number = $2',
      [tenant, body.invoiceNumber],
    )
    const invoice = rows[0]
    if (!invoice) throw new HttpError(404, 'E_NOT_FOUND', `no invoice ${body.invoiceNumber}`)
    if (invoice.paid) return void res.json({ paid: true, already: true })
    try {
      const paymentId = await f.breaker.execute(() => f.payments.charge(invoice.amount))
      await f.db.query('update invoices set paid = true where tenant = $1 and number = $2', [
        tenant,
        body.invoiceNumber,
      ])
      res.json({ paid: true, paymentId, breaker: f.breaker.state })
    } catch (err) {
      if (err instanceof PaymentFailedError) throw new HttpError(502, err.code, err.message)
      throw err
    }
  })

  router.post('/llm/complete', requireUser, async (req, res) => {
    const body = parse(
      z.object({ prompt: z.string().min(1).max(10_000), maxTokens: z.number().int().min(1).max(4096) }),
      req.body,
    )
    const user = userOf(req)
    const perUser = await f.limits.llmRequests.consume(`${user.tenant}:${user.id}`)
    if (!perUser.allowed) return limited(res, perUser, 'LLM requests per user')
    const budget = await f.limits.llmTokens.consume(`tenant:${user.tenant}`, { cost: body.maxTokens })
    if (!budget.allowed) return limited(res, budget, 'LLM token budget of the tenant')
    res.set(rateLimitHeaders(budget))
    const tokens = Math.max(1, Math.min(body.maxTokens, Math.ceil(body.prompt.length / 4) + 16))
    res.json({ tokens, text: `echo: ${body.prompt.slice(0, 64)}`, budget: { remaining: budget.remaining } })
  })

  router.post('/jobs/welcome', requireUser, async (req, res) => {
    const body = parse(z.object({ email: z.string().email() }), req.body)
    const { tenant } = userOf(req)
    const jobId = await withDeadline(
      f.queue.add('welcome', { email: body.email, tenant }, { tenant }),
      QUEUE_TIMEOUT_MS,
      'enqueue welcome',
    )
    res.status(202).json({ jobId })
  })

  router.post('/jobs/flaky', requireUser, async (req, res) => {
    const body = parse(z.object({ failTimes: z.number().int().min(0).max(10) }), req.body)
    const { tenant } = userOf(req)
    const jobId = await withDeadline(
      f.queue.add('flaky', body, { tenant }),
      QUEUE_TIMEOUT_MS,
      'enqueue flaky',
    )
    res.status(202).json({ jobId })
  })

  router.get('/jobs/:id', requireUser, async (req, res) => {
    const id = parse(z.string().min(1).max(200), req.params.id)
    const job = await withDeadline(f.queue.queue.getJob(id), QUEUE_TIMEOUT_MS, 'get job')
    if (!job) throw new HttpError(404, 'E_NOT_FOUND', `no job ${id}`)
    const state = await withDeadline(job.getState(), QUEUE_TIMEOUT_MS, 'job state')
    const { rows } = await f.db.query<{ runs: number; done: number }>(
      'select (select count(*)::int from job_runs where job_id = $1) as runs, (select count(*)::int from jobs_done where job_id = $1) as done',
      [id],
    )
    res.json({
      id,
      name: job.name,
      state,
      attempts: job.attemptsMade,
      deadLettered: state === 'failed' && job.attemptsMade >= (job.opts.attempts ?? 1),
      runs: rows[0]?.runs ?? 0,
      done: (rows[0]?.done ?? 0) > 0,
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      ...(job.returnvalue !== undefined && job.returnvalue !== null ? { result: job.returnvalue } : {}),
    })
  })

  router.get('/jobs', requireUser, async (_req, res) => {
    const [counts, deadLetters] = await withDeadline(
      Promise.all([f.queue.queue.getJobCounts(), f.queue.deadLetters.count()]),
      QUEUE_TIMEOUT_MS,
      'job counts',
    )
    res.json({ counts, deadLetters })
  })

  router.get('/activity', requireUser, async (req, res) => {
    const { tenant } = userOf(req)
    await f.metrics.flush()
    const now = Date.now()
    const result = await f.metrics.query({
      name: f.activeUsers.definition.name,
      labels: { tenant },
      from: now - 60_000,
      to: now + 1,
      step: '1m',
      fn: 'count',
    })
    const activeUsers = Math.max(0, ...result.points.map((p) => p.value ?? 0))
    res.json({ tenant, activeUsers, window: '1m' })
  })
}
