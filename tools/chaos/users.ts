/**
 * Simulated users: each logs in (one-time code + password), then loops over a mix of API calls with a
 * short think time, recording every request (latency, status, typed error, Retry-After, cache state).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Phase, RequestRecord } from './types.js'

/** The seeded accounts of the service (contract: tenants t1, t2; password 'password'). */
export const ACCOUNTS = [
  { tenant: 't1', email: 'alice@t1.test' },
  { tenant: 't1', email: 'bob@t1.test' },
  { tenant: 't2', email: 'carol@t2.test' },
] as const
const PASSWORD = 'password'

export interface UserOptions {
  baseUrl: string
  /** Milliseconds since the scenario started. */
  clock: () => number
  /** The phase new requests are tagged with. */
  phase: () => Phase
  /** A request still unanswered after this is recorded as hung (status -1) and abandoned. */
  hangMs: number
  /** Pause between two requests of one user. */
  thinkMs: number
  record: (r: RequestRecord) => void
}

interface Answer {
  status: number
  body: any
  headers: Headers | undefined
}

/** One simulated user with its own session cookie. */
export class SimUser {
  readonly account: { tenant: string; email: string }
  cookie: string | undefined
  contacts: string[] = []
  #stopped = false

  constructor(
    readonly index: number,
    readonly options: UserOptions,
  ) {
    this.account = ACCOUNTS[index % ACCOUNTS.length]!
  }

  /** Sends one request and records it under `route`. */
  async call(
    route: string,
    method: string,
    path: string,
    body?: unknown,
    extra: Partial<RequestRecord> = {},
    cookie = this.cookie,
  ): Promise<Answer> {
    const { clock, hangMs } = this.options
    const start = clock()
    const phase = this.options.phase()
    const base: RequestRecord = {
      user: this.index,
      route,
      start,
      end: start,
      status: 0,
      phase,
      account: this.account.email,
      tenant: this.account.tenant,
      ...extra,
    }
    let answer: Answer = { status: 0, body: undefined, headers: undefined }
    try {
      const res = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(cookie ? { cookie } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(hangMs),
      })
      const text = await res.text()
      let parsed: any
      try {
        parsed = text ? JSON.parse(text) : undefined
      } catch {
        parsed = text
      }
      answer = { status: res.status, body: parsed, headers: res.headers }
      const retryAfter = res.headers.get('retry-after')
      const policy = res.headers.get('ratelimit-policy')
      this.options.record({
        ...base,
        end: clock(),
        status: res.status,
        ...(parsed?.error?.code ? { code: String(parsed.error.code) } : {}),
        ...(retryAfter !== null && retryAfter !== '' ? { retryAfter: Number(retryAfter) } : {}),
        ...(policy ? { policy } : {}),
        ...(parsed?.cache ? { cache: String(parsed.cache) } : {}),
        ...(res.status === 202 && parsed?.jobId ? { jobId: String(parsed.jobId) } : {}),
        ...(res.status === 201 && parsed?.invoice ? { invoice: Number(parsed.invoice.number) } : {}),
      })
    } catch (err) {
      const hung = (err as Error).name === 'TimeoutError'
      this.options.record({ ...base, end: clock(), status: hung ? -1 : 0, code: (err as Error).name })
    }
    return answer
  }

  /** Logs in with a fresh one-time code; keeps the session cookie. */
  async login(): Promise<boolean> {
    const { tenant, email } = this.account
    const code = await this.call('POST /api/auth/code', 'POST', '/api/auth/code', { tenant, email })
    if (code.status !== 202 || !code.body?.devCode) return false
    const login = await this.call('POST /api/auth/login', 'POST', '/api/auth/login', {
      tenant,
      email,
      password: PASSWORD,
      code: code.body.devCode,
    })
    const sid = login.headers
      ?.getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('sid='))
    if (login.status !== 200 || !sid) return false
    this.cookie = sid
    const list = await this.call('GET /api/contacts', 'GET', '/api/contacts')
    if (list.status === 200 && Array.isArray(list.body?.contacts))
      this.contacts = list.body.contacts.map((c: { id: unknown }) => String(c.id))
    return this.contacts.length > 0
  }

  /** Whether the session cookie still authenticates (GET /api/me → 200). */
  async sessionValid(cookie = this.cookie): Promise<boolean> {
    return (await this.call('GET /api/me', 'GET', '/api/me', undefined, {}, cookie)).status === 200
  }

  /** One step of the traffic mix. */
  async step(): Promise<void> {
    const roll = Math.random()
    const contact = this.contacts[Math.floor(Math.random() * this.contacts.length)] ?? '1'
    if (roll < 0.45) {
      await this.call('GET /api/contacts/:id', 'GET', `/api/contacts/${contact}`, undefined, {
        contactId: contact,
      })
    } else if (roll < 0.55) await this.call('GET /api/contacts', 'GET', '/api/contacts')
    else if (roll < 0.63) await this.call('GET /api/me', 'GET', '/api/me')
    else if (roll < 0.73)
      await this.call('POST /api/invoices', 'POST', '/api/invoices', { contactId: contact, amount: 100 })
    else if (roll < 0.83)
      await this.call('POST /api/jobs/welcome', 'POST', '/api/jobs/welcome', {
        email: `welcome-${this.index}-${Math.random().toString(36).slice(2, 8)}@chaos.test`,
      })
    else if (roll < 0.93) {
      const maxTokens = 50 + Math.floor(Math.random() * 200)
      await this.call(
        'POST /api/llm/complete',
        'POST',
        '/api/llm/complete',
        { prompt: 'chaos', maxTokens },
        { cost: maxTokens },
      )
    } else if (roll < 0.96)
      await this.call(
        'PATCH /api/contacts/:id',
        'PATCH',
        `/api/contacts/${contact}`,
        { company: `Chaos ${Math.floor(Math.random() * 1000)}` },
        { contactId: contact },
      )
    else await this.call('GET /healthz', 'GET', '/healthz')
  }

  /** Steps until `stop()`. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      await this.step()
      await sleep(this.options.thinkMs * (0.5 + Math.random()))
    }
  }

  stop(): void {
    this.#stopped = true
  }
}
