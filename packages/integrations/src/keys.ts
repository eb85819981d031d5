import type { KeyBuilder } from '@cache/client'

/**
 * Every Redis key of @cache/integrations' circuit breakers: one hash per breaker, `ns:cb:<name>`, and the
 * channel its transitions are published on, `ns:cb:<name>:events`.
 */
export class BreakerKeys {
  readonly #keys: KeyBuilder

  constructor(keys: KeyBuilder) {
    this.#keys = keys
  }

  /** The breaker's state hash. */
  state(name: string): string {
    return this.#keys.key(name)
  }

  /** The channel of the breaker's transitions. */
  channel(name: string): string {
    return this.#keys.key(name, 'events')
  }
}
