/**
 * Every @cache object the service uses, built once from one connection: the tiered cache (contacts), the
 * session store, one-time codes and refresh tokens (auth), the rate limiters (API and LLM tokens), the lock
 * manager (invoice numbers), the shared circuit breaker (payments), the jobs queue, the events bus
 * (WebSockets) and the metrics (every package instrumented, active users as uniques).
 */
import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { CircuitBreaker } from '@cache/integrations'
import { LockManager } from '@cache/locks'
import { instrument, Metrics, type Uniques } from '@cache/metrics'
import type { QueueWorker } from '@cache/queue'
import { type Algorithm, CombinedLimiter, RateLimiter } from '@cache/ratelimit'
import { OneTimeCodes, RefreshTokens } from '@cache/session'
import { SessionStore } from '@cache/session/express'
import { TieredCache } from '@cache/tiered'
import type { ResolvedServiceOptions } from './config.js'
import type { Db } from './db.js'
import { type JobQueue, jobQueue, startWorkers } from './jobs.js'
import { OutageIdentities } from './outage.js'
import { PaymentsProvider } from './payments.js'
import { Realtime } from './realtime.js'
import { RedisStatus } from './redis-status.js'

/** A contact row as the API returns it. */
export interface Contact {
  id: string
  tenant: string
  name: string
  email: string
  company: string
  updatedAt: string
}

/** The service's shared objects, given to every route. */
export interface Family {
  readonly options: ResolvedServiceOptions
  readonly log: (line: string) => void
  readonly db: Db
  readonly conn: Connection
  readonly status: RedisStatus
  readonly cache: TieredCache<unknown>
  readonly store: SessionStore
  readonly codes: OneTimeCodes
  readonly refresh: RefreshTokens
  readonly limits: {
    readonly user: RateLimiter
    readonly tenant: RateLimiter
    readonly llmRequests: RateLimiter
    readonly llmTokens: CombinedLimiter
  }
  readonly locks: LockManager
  readonly breaker: CircuitBreaker
  readonly payments: PaymentsProvider
  readonly queue: JobQueue
  readonly worker: QueueWorker | undefined
  readonly realtime: Realtime
  readonly metrics: Metrics
  /** Distinct active users per tenant (a HyperLogLog per time bucket and tenant): `add(userId, { tenant })`. */
  readonly activeUsers: Uniques
  readonly sessionSecret: string
  /** Users seen per signed cookie, for read-only routes while Redis is down (outage.ts). */
  readonly identities: OutageIdentities
  close(): Promise<void>
}

/** Connection defaults of the service: short timeouts so that no request waits long on a sick Redis. */
export const REDIS_DEFAULTS = {
  namespace: 'crm',
  connectTimeout: '5s',
  commandTimeout: '1s',
  offlineQueue: false,
  breaker: { failureThreshold: 3, resetTimeout: '1s' },
  reconnect: { initialDelay: '50ms', maxDelay: '1s', jitter: 0.5 },
} as const

/** Builds the family on a new connection to `options.redis`. */
export async function createFamily(options: ResolvedServiceOptions, db: Db): Promise<Family> {
  const log = options.log ?? (() => {})
  const conn = await connect({ ...REDIS_DEFAULTS, ...options.redis })
  const closers: Array<() => Promise<unknown>> = [() => conn.close()]
  const close = async () => {
    for (const c of closers.splice(0).reverse())
      await c().catch((err) => log(`close: ${(err as Error).message}`))
  }
  try {
    const status = new RedisStatus(conn)
    const metrics = new Metrics(conn, { namespace: 'metrics', flushInterval: '5s' })
    closers.push(() => metrics.close())
    const stopInstrument = instrument(metrics, { packages: 'all' })
    closers.push(async () => stopInstrument())
    const activeUsers = metrics.uniques('crm_active_users', {
      help: 'Distinct users seen, per tenant',
      labels: ['tenant'],
    })

    const cache = new TieredCache<unknown>(conn, {
      namespace: 'contacts',
      defaultTtl: '5m',
      l1: { maxEntries: 10_000, ttl: '30s' },
      coherence: 'tracking',
      grace: '1h',
      timeouts: { soft: '50ms', hard: '3s' },
    })
    closers.push(() => cache.close())
    cache.on('problem', (err: Error) => log(`cache: ${err.message}`))
    await cache.ready.catch((err: Error) => log(`cache coherence: ${err.message}`))

    const secret = options.sessionSecret ?? randomBytes(24).toString('base64url')
    const store = new SessionStore(conn, {
      tenant: 'crm',
      userId: (sess) => {
        const user = (sess as { user?: { id: string; tenant: string } }).user
        return user ? `${user.tenant}:${user.id}` : undefined
      },
      absoluteTimeout: '12h',
    })
    closers.push(() => store.close())
    const codes = new OneTimeCodes(conn, {
      ttl: '5m',
      maxAttempts: 5,
      resendInterval: options.otpResendInterval,
      hashKey: `otp:${secret}`,
    })
    const refresh = new RefreshTokens(conn, { ttl: '30d', idleTimeout: '7d', hashKey: `rt:${secret}` })

    const o = options.limits
    const rule = (name: string, algorithm: Algorithm, limit: number, window: string) =>
      new RateLimiter(conn, { algorithm, limit, window, name })
    const user = rule('user', 'gcra', o.userRequests, '1m')
    const tenant = rule('tenant', 'sliding-window', o.tenantRequests, '1m')
    const llmRequests = rule('llm-requests', 'sliding-window', o.llmRequests, '1m')
    const tokensPerMinute = rule('llm-tpm', 'token-bucket', o.llmTokens, '1m')
    const tokensPerDay = rule('llm-tpd', 'fixed-window', o.llmTokens * 100, '1d')
    const llmTokens = new CombinedLimiter([tokensPerMinute, tokensPerDay])
    for (const l of [user, tenant, llmRequests, tokensPerMinute, tokensPerDay, llmTokens])
      closers.push(() => l.close())

    const locks = new LockManager(conn)
    closers.push(() => locks.close())
    const breaker = new CircuitBreaker(conn, 'payments', {
      failureRate: 0.5,
      minimumCalls: 6,
      window: '10s',
      openFor: '5s',
      callTimeout: '2s',
    })
    closers.push(() => breaker.close())
    breaker.on('state', (s: unknown) => log(`payments breaker: ${JSON.stringify(s)}`))
    const payments = new PaymentsProvider(options.paymentsFailureRate)

    const queue = jobQueue(conn, log, options.jobDurability)
    closers.push(() => queue.close())
    let worker: QueueWorker | undefined
    if (options.workers) {
      worker = startWorkers(queue, db, { id: `api-${process.pid}` })
      closers.push(() => worker!.close({ timeout: '5s' }))
    }
    await queue
      .schedule('digest', { cron: options.digestCron }, {}, { id: 'nightly-digest' })
      .catch((err: Error) => log(`digest schedule: ${err.message}`))

    const realtime = new Realtime(conn, log)
    closers.push(() => realtime.close())

    return {
      options,
      log,
      db,
      conn,
      status,
      cache,
      store,
      codes,
      refresh,
      limits: { user, tenant, llmRequests, llmTokens },
      locks,
      breaker,
      payments,
      queue,
      worker,
      realtime,
      metrics,
      activeUsers,
      sessionSecret: secret,
      identities: new OutageIdentities(),
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
