import type { KeyBuilder } from '@cache/client'

/** The keys of one rule for one user key. */
export interface RuleKeys {
  /** The rule's state hash (in Redis a block is a field of it). */
  state: string
  /** The sliding-log zset. */
  log: string
  /** The block key of the in-memory store (the 'local' outage policy). */
  block: string
}

/**
 * Every Redis key of @cache/ratelimit. A user key's keys share its `{hash tag}`, so every rule of a
 * combined limit, and the key's stats, live in one Cluster slot:
 * `ns:rl:{user}:rule`, `ns:rl:{user}:rule:log`, `ns:rl:{user}:rule:block`, `ns:rl:{user}:~stats`,
 * `ns:rl:{user}:~inflight:name`; live rules in `ns:rl:~rules` (hash) announced on `ns:rl:~rules`.
 */
export class RateLimitKeys {
  readonly #keys: KeyBuilder

  constructor(keys: KeyBuilder) {
    this.#keys = keys
  }

  /** The namespace of this package's keys (`ns:rl`). */
  get namespace(): string {
    return this.#keys.namespace
  }

  /** State hash, log zset and block key of one rule for one user key. */
  rule(userKey: string, rule: string): RuleKeys {
    const state = this.#keys.tagged(userKey, rule)
    return { state, log: `${state}:log`, block: `${state}:block` }
  }

  /** The per-key analytics hash (fields `<rule>:a` and `<rule>:d`). */
  stats(userKey: string): string {
    return this.#keys.tagged(userKey, '~stats')
  }

  /** The leases of a concurrency limiter for one user key. */
  inflight(userKey: string, name: string): string {
    return this.#keys.tagged(userKey, '~inflight', name)
  }

  /** The hash of live rules, and the channel their updates are announced on. */
  rules(): string {
    return this.#keys.key('~rules')
  }

  /** The per-rule analytics hash shared by every process (fields `<rule>:a` and `<rule>:d`). */
  ruleStats(): string {
    return this.#keys.key('~stats')
  }
}
