import type { KeyBuilder } from '@cache/client'

/**
 * Every Redis key of @cache/session. A session lives in `ns:t:<tenant>:{<handle>}`, tagged by its own
 * handle (the hash of its id), so each script touches one key; a user's index is
 * `ns:t:<tenant>:u:{<user>}`. Tenant ids are validated (TENANT_PATTERN) before they get here.
 */
export class SessionKeys {
  readonly #keys: KeyBuilder
  constructor(keys: KeyBuilder) {
    this.#keys = keys
  }
  /** The session hash. */
  session(tenant: string, handle: string): string {
    return this.#keys.child('t', tenant).tagged(handle)
  }
  /** The user's index: zset handle -> absolute deadline ms (an upper bound of the session's life). */
  user(tenant: string, userId: string): string {
    return this.#keys.child('t', tenant, 'u').tagged(userId)
  }
  /** The tenant's live-session zset (handle -> last known expiry ms) for `stats()`. */
  live(tenant: string): string {
    return this.#keys.child('t', tenant).tagged('live')
  }
  /** Counters (hash: created, revoked) of a tenant. */
  counters(tenant: string): string {
    return this.#keys.child('t', tenant).tagged('stats')
  }
  /** HyperLogLog of the users with a session created on one UTC day (`YYYY-MM-DD`). */
  users(tenant: string, day: string): string {
    return this.#keys.child('t', tenant).tagged('users', day)
  }
  /** Tenants that ever had a session (set): the sweep trims their live sets. */
  tenants(): string {
    return this.#keys.tagged('tenants')
  }
  /** Per-user indexes due for a sweep: zset `<tenant>:<user>` -> when an entry may next be stale (ms). */
  sweep(): string {
    return this.#keys.tagged('sweep')
  }
  /** The lease that lets one process of the fleet sweep per interval. */
  sweepLease(): string {
    return this.#keys.tagged('sweep', 'lease')
  }
}
