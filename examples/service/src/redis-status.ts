/** Whether Redis answers, as this process sees it: the connection's breaker and reconnect events, and a bounded PING. */
import { type Connection, withDeadline } from '@cache/client'

/** Tracks Redis reachability without ever blocking a caller. */
export class RedisStatus {
  #up = true
  #since = Date.now()

  constructor(private readonly conn: Connection) {
    conn.on('breaker', (state: string) => this.#set(state === 'closed'))
    conn.on('reconnecting', () => this.#set(false))
    conn.on('end', () => this.#set(false))
    conn.on('ready', () => this.#set(true))
  }

  #set(up: boolean): void {
    if (up !== this.#up) this.#since = Date.now()
    this.#up = up
  }

  /** True unless the connection reported Redis unreachable. */
  get up(): boolean {
    return this.#up
  }

  /** When `up` last changed (ms since the epoch). */
  get since(): number {
    return this.#since
  }

  /** PINGs with a deadline of `ms`; never throws. */
  async ping(ms = 500): Promise<{ up: boolean; latencyMs: number }> {
    const start = performance.now()
    try {
      await withDeadline(this.conn.send(['PING'], { timeoutMs: ms }), ms, 'healthz PING')
      this.#set(true)
      return { up: true, latencyMs: performance.now() - start }
    } catch {
      return { up: false, latencyMs: performance.now() - start }
    }
  }
}
