/**
 * The CRM service end to end over real HTTP, against its own redis-server from the harness (the outage
 * test stops it): login with a code, cached reads, limits, jobs, logout everywhere, refresh reuse, WebSocket
 * per tenant, invoice fencing tokens, and a Redis outage.
 */
import { type StandaloneTopology, startStandalone, waitFor } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type RunningService, startService } from '../src/index.js'
import { ApiClient } from '../src/load.js'

let redis: StandaloneTopology
let svc: RunningService

beforeAll(async () => {
  redis = await startStandalone()
  svc = await startService({
    redis: { url: redis.url },
    port: 0,
    devCodes: true,
    otpResendInterval: 0,
    paymentsFailureRate: 0,
    limits: { userRequests: 80, tenantRequests: 100_000, llmRequests: 50, llmTokens: 5_000 },
  })
}, 180_000)

afterAll(async () => {
  await svc?.close()
  await redis?.stop()
}, 60_000)

async function loggedIn(tenant: string, email: string): Promise<ApiClient> {
  const api = new ApiClient(svc.url)
  const res = await api.login(tenant, email)
  expect(res.status).toBe(200)
  return api
}

function ratio(): number {
  const s = svc.family.cache.tierStats()
  const hits = s.l1.hits + s.l2.hits
  return hits / Math.max(1, hits + s.l1.misses)
}

describe('example service', () => {
  it('logs in with a one-time code and the password, and refuses a wrong code', async () => {
    const api = new ApiClient(svc.url)
    const code = await api.call('POST', '/api/auth/code', { tenant: 't1', email: 'alice@t1.test' })
    expect(code.status).toBe(202)
    expect(code.body.devCode).toMatch(/^\d{6}$/)
    const wrong = String((Number(code.body.devCode) + 1) % 1_000_000).padStart(6, '0')
    const bad = await api.call('POST', '/api/auth/login', {
      tenant: 't1',
      email: 'alice@t1.test',
      password: 'password',
      code: wrong,
    })
    expect(bad.status).toBe(401)
    const ok = await api.call('POST', '/api/auth/login', {
      tenant: 't1',
      email: 'alice@t1.test',
      password: 'password',
      code: code.body.devCode,
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.getSetCookie().some((c) => c.startsWith('sid='))).toBe(true)
    expect(ok.body.user).toEqual({ id: 't1-alice', tenant: 't1', name: 'Alice' })
    const me = await api.call('GET', '/api/me')
    expect(me.status).toBe(200)
    expect(me.body.user.email).toBe('alice@t1.test')
    expect(me.body.session.expiresAt).toBeGreaterThan(Date.now())
    expect((await new ApiClient(svc.url).call('GET', '/api/me')).status).toBe(401)
  })

  it('reads contacts through the cache: the second read is a hit, the ratio rises, a PATCH invalidates the lists showing it', async () => {
    const api = await loggedIn('t1', 'alice@t1.test')
    const first = await api.call('GET', '/api/contacts?list=t1-l1')
    expect(first.status).toBe(200)
    expect(first.body.contacts).toHaveLength(10)
    expect(first.body.contacts.every((c: { tenant: string }) => c.tenant === 't1')).toBe(true)
    const before = ratio()
    const second = await api.call('GET', '/api/contacts?list=t1-l1')
    expect(second.body.cache).toBe('hit')
    expect(second.headers.get('x-cache')).toBe('hit')
    for (let i = 0; i < 5; i++) await api.call('GET', '/api/contacts/t1-c2')
    expect(ratio()).toBeGreaterThan(before)

    const patched = await api.call('PATCH', '/api/contacts/t1-c2', { company: 'Patched Inc' })
    expect(patched.status).toBe(200)
    const list = await api.call('GET', '/api/contacts?list=t1-l1')
    expect(list.body.cache).toBe('miss')
    expect(list.body.contacts.find((c: { id: string }) => c.id === 't1-c2').company).toBe('Patched Inc')
    const one = await api.call('GET', '/api/contacts/t1-c2')
    expect(one.body.contact.company).toBe('Patched Inc')
    // another tenant's contact is not found
    expect((await api.call('GET', '/api/contacts/t2-c1')).status).toBe(404)
  })

  it('rate limits a user with RateLimit headers and Retry-After', async () => {
    const api = await loggedIn('t1', 'bob@t1.test')
    let res = await api.call('GET', '/api/contacts/t1-c1')
    expect(res.headers.get('ratelimit-policy')).toContain('"user";q=80;w=60')
    for (let i = 0; i < 200 && res.status === 200; i++) res = await api.call('GET', '/api/contacts/t1-c1')
    expect(res.status).toBe(429)
    expect(res.body.error.code).toBe('E_RATE_LIMITED')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(res.headers.get('ratelimit')).toMatch(/^"user";r=0;t=\d+$/)
  })

  it('limits LLM tokens per tenant by maxTokens (combined limits) with Retry-After', async () => {
    const api = await loggedIn('t2', 'carol@t2.test')
    const ok = await api.call('POST', '/api/llm/complete', { prompt: 'hi', maxTokens: 4000 })
    expect(ok.status).toBe(200)
    const over = await api.call('POST', '/api/llm/complete', { prompt: 'hi', maxTokens: 4000 })
    expect(over.status).toBe(429)
    expect(over.headers.get('ratelimit-policy')).toContain('"llm-tpm";q=5000')
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const small = await api.call('POST', '/api/llm/complete', { prompt: 'hi', maxTokens: 500 })
    expect(small.status).toBe(200)
  })

  it('runs a welcome job to completion and sends a flaky job to the dead-letter queue', async () => {
    const api = await loggedIn('t1', 'alice@t1.test')
    const welcome = await api.call('POST', '/api/jobs/welcome', { email: 'new@example.com' })
    expect(welcome.status).toBe(202)
    const done = await waitFor(
      'welcome job completed',
      async () => {
        const r = await api.call('GET', `/api/jobs/${welcome.body.jobId}`)
        return r.body.state === 'completed' && r.body
      },
      { timeoutMs: 30_000 },
    )
    expect(done.done).toBe(true)
    const { rows } = await svc.db.query('select kind, attempt from job_runs where job_id = $1', [
      welcome.body.jobId,
    ])
    expect(rows).toEqual([{ kind: 'welcome', attempt: 1 }])

    const flaky = await api.call('POST', '/api/jobs/flaky', { failTimes: 5 })
    const dead = await waitFor(
      'flaky job dead-lettered',
      async () => {
        const letters = await svc.family.queue.deadLetters.list({ name: 'flaky' })
        return letters.find((d) => d.sourceId === flaky.body.jobId)
      },
      { timeoutMs: 30_000 },
    )
    expect(dead.attempts).toHaveLength(3)
    const runs = await svc.db.query('select attempt from job_runs where job_id = $1 order by attempt', [
      flaky.body.jobId,
    ])
    expect(runs.rows.map((r: { attempt: number }) => r.attempt)).toEqual([1, 2, 3])
  })

  it('rotates refresh tokens; reusing an old one is refused and revokes the family', async () => {
    const api = await loggedIn('t1', 'alice@t1.test')
    const first = api.refreshToken as string
    const next = await api.call('POST', '/api/auth/refresh', { refreshToken: first })
    expect(next.status).toBe(200)
    expect(next.body.refreshToken).not.toBe(first)
    const reuse = await api.call('POST', '/api/auth/refresh', { refreshToken: first })
    expect(reuse.status).toBe(401)
    expect(reuse.body.error.code).toBe('E_TOKEN_REUSED')
    expect(
      (await api.call('POST', '/api/auth/refresh', { refreshToken: next.body.refreshToken })).status,
    ).toBe(401)
  })

  it('logs a user out everywhere: every session cookie and refresh token stops working', async () => {
    const phone = await loggedIn('t1', 'alice@t1.test')
    const laptop = await loggedIn('t1', 'alice@t1.test')
    expect((await phone.call('GET', '/api/me')).status).toBe(200)
    const out = await laptop.call('POST', '/api/auth/logout-everywhere')
    expect(out.status).toBe(200)
    expect(out.body.revoked).toBeGreaterThanOrEqual(2)
    expect((await phone.call('GET', '/api/me')).status).toBe(401)
    expect((await laptop.call('GET', '/api/me')).status).toBe(401)
    expect((await phone.call('POST', '/api/auth/refresh', { refreshToken: phone.refreshToken })).status).toBe(
      401,
    )
  })

  it('sends contact changes over WebSocket to the same tenant only', async () => {
    const alice = await loggedIn('t1', 'alice@t1.test')
    const carol = await loggedIn('t2', 'carol@t2.test')
    const open = async (api: ApiClient) => {
      const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/ws`, {
        headers: { cookie: api.cookie as string },
      })
      const messages: Array<{ type: string; id?: string; tenant?: string }> = []
      ws.on('message', (data) => messages.push(JSON.parse(String(data))))
      await waitFor('hello', () => messages.some((m) => m.type === 'hello'), { timeoutMs: 20_000 })
      return { ws, messages }
    }
    const a = await open(alice)
    const c = await open(carol)
    // active users per tenant (metrics uniques): t2 has one user, carol
    expect((await carol.call('GET', '/api/activity')).body).toMatchObject({ tenant: 't2', activeUsers: 1 })
    expect((await alice.call('GET', '/api/activity')).body.activeUsers).toBeGreaterThanOrEqual(1)
    expect((await alice.call('PATCH', '/api/contacts/t1-c5', { name: 'Renamed' })).status).toBe(200)
    expect((await carol.call('PATCH', '/api/contacts/t2-c5', { name: 'Renamed too' })).status).toBe(200)
    await waitFor('alice hears t1', () =>
      a.messages.some((m) => m.type === 'contact.updated' && m.id === 't1-c5'),
    )
    await waitFor('carol hears t2', () =>
      c.messages.some((m) => m.type === 'contact.updated' && m.id === 't2-c5'),
    )
    await waitFor('alice hears t2 if she ever will', async () => {
      // one more t1 change published after carol's: once alice has it, carol's (earlier) would have arrived too
      await alice.call('PATCH', '/api/contacts/t1-c6', { name: 'Fence' })
      return a.messages.some((m) => m.id === 't1-c6')
    })
    expect(a.messages.filter((m) => m.type === 'contact.updated').every((m) => m.tenant === 't1')).toBe(true)
    expect(c.messages.filter((m) => m.type === 'contact.updated').every((m) => m.tenant === 't2')).toBe(true)
    const anonymous = new WebSocket(`${svc.url.replace('http', 'ws')}/ws`)
    const refused = await new Promise<number>((resolve) => {
      anonymous.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      anonymous.on('error', () => {})
    })
    expect(refused).toBe(401)
    a.ws.close()
    c.ws.close()
  })

  it('numbers invoices under a mutex: 20 concurrent requests get distinct numbers with strictly increasing fencing tokens', async () => {
    const api = await loggedIn('t2', 'carol@t2.test')
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.call('POST', '/api/invoices', { contactId: 't2-c1', amount: 100 + i }),
      ),
    )
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201))
    const invoices = results.map((r) => r.body.invoice as { number: number; fencingToken: number })
    const byNumber = [...invoices].sort((x, y) => x.number - y.number)
    expect(new Set(invoices.map((i) => i.number)).size).toBe(20)
    for (let i = 1; i < byNumber.length; i++) {
      expect(byNumber[i]!.number).toBe(byNumber[i - 1]!.number + 1)
      expect(byNumber[i]!.fencingToken).toBeGreaterThan(byNumber[i - 1]!.fencingToken)
    }
    const { rows } = await svc.db.query<{ number: number; fencing_token: string }>(
      "select number, fencing_token::text from invoices where tenant = 't2' order by number",
    )
    const tokens = rows.map((r) => BigInt(r.fencing_token))
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true)
    const paid = await api.call('POST', '/api/payments', { invoiceNumber: byNumber[0]!.number })
    expect(paid.status).toBe(200)
  })

  it('survives a Redis outage: /healthz says down, cached contacts are served stale, other routes answer 503 with Retry-After', async () => {
    const reader = await loggedIn('t2', 'carol@t2.test')
    const id = 't2-c7'
    expect((await reader.call('GET', `/api/contacts/${id}`)).status).toBe(200)
    await redis.master.kill()
    try {
      const health = await waitFor('healthz down', async () => {
        const r = await reader.call('GET', '/healthz')
        return r.body.redis === 'down' && r
      })
      expect(health.status).toBe(200)
      const cached = await reader.call('GET', `/api/contacts/${id}`)
      expect(cached.status).toBe(200)
      // from L1 ('stale') or, L1 being distrusted after the disconnect, from the database ('miss')
      expect(['stale', 'miss']).toContain(cached.body.cache)
      expect(cached.body.contact.id).toBe(id)
      const list = await reader.call('GET', '/api/contacts?list=t2-l1')
      expect(list.status).toBe(200)
      expect(list.body.contacts).toHaveLength(10)
      for (const [method, path, body] of [
        ['POST', '/api/invoices', { contactId: id, amount: 1 }],
        ['PATCH', `/api/contacts/${id}`, { name: 'x' }],
        ['GET', '/api/me', undefined],
      ] as const) {
        const res = await reader.call(method, path, body)
        expect(res.status, `${method} ${path}`).toBe(503)
        expect(Number(res.headers.get('retry-after')), `${method} ${path}`).toBeGreaterThanOrEqual(1)
        expect(res.body.error.code).toMatch(/^E_/)
      }
    } finally {
      await redis.master.restart()
    }
    await waitFor('healthz up', async () => (await reader.call('GET', '/healthz')).body.redis === 'up', {
      timeoutMs: 30_000,
    })
  })

  it('never hangs while Redis is paused (SIGSTOP) past every timeout: healthz down, 503s with Retry-After, then recovers', async () => {
    const reader = await loggedIn('t2', 'carol@t2.test')
    expect((await reader.call('GET', '/api/contacts/t2-c8')).status).toBe(200)
    redis.master.pause()
    try {
      // every call below is bounded by the client's 10 s abort: a hang fails the test
      const health = await waitFor('healthz down while paused', async () => {
        const r = await reader.call('GET', '/healthz')
        return r.body.redis === 'down' && r
      })
      expect(health.status).toBe(200)
      const me = await reader.call('GET', '/api/me')
      expect(me.status).toBe(503)
      expect(Number(me.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      const cached = await reader.call('GET', '/api/contacts/t2-c8')
      expect(cached.status).toBe(200)
      expect(cached.body.contact.id).toBe('t2-c8')
    } finally {
      redis.master.resume()
    }
    await waitFor('me answers again', async () => (await reader.call('GET', '/api/me')).status === 200, {
      timeoutMs: 30_000,
    })
  })
})
