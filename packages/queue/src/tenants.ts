import type { Connection } from '@cache/client'
import { ConcurrencyLimiter, type Lease, RateLimiter } from '@cache/ratelimit'
import { TENANT_CONCURRENCY_RETRY_MS } from './defaults.js'
import type { QueueKeys } from './keys.js'
import type { ResolvedProcessOptions } from './options.js'

/** The gate's answer: run now (and release after), or wait `delayMs`. */
export type TenantDecision =
  | { ok: true; release(): Promise<void> }
  | { ok: false; delayMs: number; limit: 'rate' | 'concurrency' }

/**
 * Per-tenant limits of one queue, shared by every worker through @cache/ratelimit: a sliding-window rate
 * limit and a concurrency limit (leases that expire if a worker dies). A tenant known to be rate-limited
 * is answered in-process until its retry time, without a round trip.
 */
export class TenantGate {
  readonly #rate: RateLimiter | undefined
  readonly #inflight: ConcurrencyLimiter | undefined
  /** Tenants known to be rate-limited: until when, and how many of their jobs were deferred since. */
  readonly #blocked = new Map<string, { until: number; deferred: number }>()
  readonly #limit: number
  readonly #windowMs: number

  constructor(
    conn: Connection,
    keys: QueueKeys,
    queue: string,
    limits: NonNullable<ResolvedProcessOptions['perTenant']>,
    leaseMs: number,
  ) {
    this.#limit = limits.limit ?? 1
    this.#windowMs = limits.windowMs ?? 0
    if (limits.limit !== undefined && limits.windowMs !== undefined) {
      const k = keys.tenantLimiter(queue, 'rate')
      this.#rate = new RateLimiter(conn, {
        algorithm: 'sliding-window',
        limit: limits.limit,
        window: limits.windowMs,
        name: k.name,
        namespace: k.namespace,
      })
    }
    if (limits.concurrency !== undefined) {
      const k = keys.tenantLimiter(queue, 'inflight')
      this.#inflight = new ConcurrencyLimiter(conn, {
        limit: limits.concurrency,
        lease: leaseMs,
        name: k.name,
        namespace: k.namespace,
      })
    }
  }

  /**
   * Takes a concurrency slot and a unit of the rate limit for `tenant`, or says how long to wait. Jobs of
   * a tenant already known to be over its rate are spread over the windows to come (the n-th deferred job
   * waits the retry time plus ⌊n / limit⌋ windows), so a backlog of thousands is moved once, not on every
   * window.
   */
  async enter(tenant: string): Promise<TenantDecision> {
    const blocked = this.#blocked.get(tenant)
    const now = Date.now()
    if (blocked !== undefined) {
      if (blocked.until > now) {
        const delayMs = blocked.until - now + Math.floor(blocked.deferred / this.#limit) * this.#windowMs
        blocked.deferred++
        return { ok: false, delayMs, limit: 'rate' }
      }
      this.#blocked.delete(tenant)
    }
    let lease: Lease | undefined
    if (this.#inflight) {
      lease = await this.#inflight.acquire(tenant)
      if (!lease.allowed) {
        return {
          ok: false,
          delayMs: Math.max(1, Math.min(lease.retryAfterMs, TENANT_CONCURRENCY_RETRY_MS)),
          limit: 'concurrency',
        }
      }
    }
    if (this.#rate) {
      const r = await this.#rate.consume(tenant)
      if (!r.allowed) {
        await lease?.release()
        const delayMs = Math.max(1, r.retryAfterMs)
        this.#blocked.set(tenant, { until: Date.now() + delayMs, deferred: 1 })
        if (this.#blocked.size > 10_000) this.#blocked.delete(this.#blocked.keys().next().value as string)
        return { ok: false, delayMs, limit: 'rate' }
      }
    }
    return {
      ok: true,
      release: async () => {
        await lease?.release()
      },
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#rate?.close(), this.#inflight?.close()])
  }
}
