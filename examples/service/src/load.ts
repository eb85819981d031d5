/**
 * A gentle load generator: `users` simulated users, each looping at a relaxed pace through login (code +
 * password), contact reads, an update, an invoice and a payment, an LLM call and a job. Enough traffic for
 * the dashboard to show hit ratios, limits, jobs and breaker state; never enough to hurt a laptop.
 */
import { setTimeout as sleep } from 'node:timers/promises'

const USERS = [
  { tenant: 't1', email: 'alice@t1.test' },
  { tenant: 't1', email: 'bob@t1.test' },
  { tenant: 't2', email: 'carol@t2.test' },
]

/** A tiny cookie-keeping HTTP client for one simulated user. */
export class ApiClient {
  cookie: string | undefined
  refreshToken: string | undefined

  constructor(readonly base: string) {}

  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.cookie ? { cookie: this.cookie } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: signal ?? AbortSignal.timeout(10_000),
    })
    const set = res.headers.getSetCookie().find((c) => c.startsWith('sid='))
    if (set) this.cookie = set.split(';')[0]
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {}
    return { status: res.status, body: parsed as T, headers: res.headers }
  }

  /** Logs in with the dev code the service returns outside production. */
  async login(tenant: string, email: string, password = 'password'): Promise<{ status: number; body: any }> {
    const code = await this.call('POST', '/api/auth/code', { tenant, email })
    if (code.status !== 202 || !code.body?.devCode) return code
    const res = await this.call('POST', '/api/auth/login', {
      tenant,
      email,
      password,
      code: code.body.devCode,
    })
    if (res.status === 200) this.refreshToken = res.body.refreshToken
    return res
  }
}

/** Runs the load until `signal` aborts; `onError` gets unexpected failures (network errors). */
export async function runLoad(
  base: string,
  options: { users: number; signal: AbortSignal; onError?: (err: unknown) => void },
): Promise<void> {
  const { signal } = options
  const pause = (ms: number) => sleep(ms * (0.5 + Math.random()), undefined, { signal }).catch(() => {})
  const one = async (n: number) => {
    const who = USERS[n % USERS.length] as (typeof USERS)[number]
    const api = new ApiClient(base)
    await pause(n * 300)
    while (!signal.aborted) {
      try {
        if (!api.cookie || Math.random() < 0.02) {
          const res = await api.login(who.tenant, who.email)
          if (res.status !== 200) {
            await pause(2_000)
            continue
          }
        }
        const list = ['all', `${who.tenant}-l1`, `${who.tenant}-l2`, `${who.tenant}-l3`][
          Math.floor(Math.random() * 4)
        ]
        const r = await api.call(
          'GET',
          `/api/contacts${list === 'all' ? '' : `?list=${list}`}`,
          undefined,
          signal,
        )
        if (r.status === 401) api.cookie = undefined
        const id = `${who.tenant}-c${1 + Math.floor(Math.random() * 40)}`
        await api.call('GET', `/api/contacts/${id}`, undefined, signal)
        const dice = Math.random()
        if (dice < 0.08)
          await api.call(
            'PATCH',
            `/api/contacts/${id}`,
            { company: `Co ${Math.floor(Math.random() * 100)}` },
            signal,
          )
        else if (dice < 0.14) {
          const inv = await api.call(
            'POST',
            '/api/invoices',
            { contactId: id, amount: 100 + Math.floor(Math.random() * 10_000) },
            signal,
          )
          if (inv.status === 201)
            await api.call('POST', '/api/payments', { invoiceNumber: inv.body.invoice.number }, signal)
        } else if (dice < 0.22)
          await api.call(
            'POST',
            '/api/llm/complete',
            { prompt: 'Summarise this contact', maxTokens: 200 + Math.floor(Math.random() * 800) },
            signal,
          )
        else if (dice < 0.25)
          await api.call(
            'POST',
            '/api/jobs/welcome',
            { email: `new${Math.floor(Math.random() * 1e6)}@example.com` },
            signal,
          )
        else if (dice < 0.26)
          await api.call('POST', '/api/jobs/flaky', { failTimes: Math.floor(Math.random() * 4) }, signal)
        else if (dice < 0.28) await api.call('GET', '/api/activity', undefined, signal)
      } catch (err) {
        if (!signal.aborted) options.onError?.(err)
        await pause(1_000)
      }
      await pause(400)
    }
  }
  await Promise.all(Array.from({ length: options.users }, (_, i) => one(i)))
}
