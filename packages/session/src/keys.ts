import type { KeyBuilder } from '@cache/client'

/**
 * Every Redis key of @cache/session. A session lives in `ns:t:<tenant>:{<handle>}`, tagged by its own
 * handle (the hash of its id), so each script touches one key; a user's index is
 * `ns:t:<tenant>:u:{<user>}`. Tenant ids are validated (TENANT_PATTERN) before they get here.
 */
export class SessionKeys {
  readonly #keys: KeyBuilder
  /** `ns:t:<tenant>` builders: a KeyBuilder validates its namespace, too much to do per request. */
  readonly #tenants = new Map<string, KeyBuilder>()
  constructor(keys: KeyBuilder) {
    this.#keys = keys
  }
  #tenant(tenant: string): KeyBuilder {
    let keys = this.#tenants.get(tenant)
    if (!keys) {
      keys = this.#keys.child('t', tenant)
      // Bounded: a process serving more tenants than this rebuilds the rest per call.
      if (this.#tenants.size < 10_000) this.#tenants.set(tenant, keys)
    }
    return keys
  }
  /** The session hash. */
  session(tenant: string, handle: string): string {
    return this.#tenant(tenant).tagged(handle)
  }
  /** The user's index: zset handle -> absolute deadline ms (an upper bound of the session's life). */
  user(tenant: string, userId: string): string {
    return this.#keys.child('t', tenant, 'u').tagged(userId)
  }
  /** The tenant's live-session zset (handle -> last known expiry ms) for `stats()`. */
  live(tenant: string): string {
    return this.#tenant(tenant).tagged('live')
  }
  /** Counters (hash: created, revoked) of a tenant. */
  counters(tenant: string): string {
    return this.#tenant(tenant).tagged('stats')
  }
  /** HyperLogLog of the users with a session created on one UTC day (`YYYY-MM-DD`). */
  users(tenant: string, day: string): string {
    return this.#tenant(tenant).tagged('users', day)
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
