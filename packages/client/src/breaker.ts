/** The states of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * Fails fast while a server is unreachable. `failureThreshold` consecutive connectivity failures (or a
 * lost connection) open it; while open, `allow()` refuses until `resetTimeoutMs` has passed, then lets one
 * probe through (half-open). The probe's success closes it; its failure opens it again.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed'
  #failures = 0
  #openedAt = 0
  readonly #threshold: number
  readonly #resetMs: number
  readonly #onChange: (state: BreakerState) => void
  readonly #now: () => number

  constructor(
    options: { failureThreshold: number; resetTimeoutMs: number },
    onChange: (state: BreakerState) => void = () => {},
    now: () => number = Date.now,
  ) {
    this.#threshold = options.failureThreshold
    this.#resetMs = options.resetTimeoutMs
    this.#onChange = onChange
    this.#now = now
  }

  get state(): BreakerState {
    return this.#state
  }

  /** Milliseconds until an open breaker lets a probe through (0 when closed). */
  get retryAfterMs(): number {
    if (this.#state === 'closed') return 0
    return Math.max(0, this.#openedAt + this.#resetMs - this.#now())
  }

  /** May a command go to the server now? The first call after the reset timeout becomes the probe. */
  allow(): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open' && this.#now() >= this.#openedAt + this.#resetMs) {
      this.#set('half-open')
      return true
    }
    return false
  }

  /** A command reached the server and got an answer. */
  success(): void {
    this.#failures = 0
    if (this.#state !== 'closed') this.#set('closed')
  }

  /** A command failed for a connectivity reason (timeout, refused, socket closed). */
  failure(): void {
    this.#failures++
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#threshold))
      this.open()
  }

  /** Opens at once (the connection is known to be down). */
  open(): void {
    this.#openedAt = this.#now()
    if (this.#state !== 'open') this.#set('open')
  }

  #set(state: BreakerState): void {
    this.#state = state
    this.#onChange(state)
  }
}
