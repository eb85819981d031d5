import { randomUUID } from 'node:crypto'
import type { Connection, ScriptFn } from './connection.js'
import { type Duration, parseDuration } from './duration.js'
import { PKG } from './pkg.js'
import * as lua from './scripts/index.js'

/** Options of a Lease. */
export interface LeaseOptions {
  /** How long the lease lives unless renewed (ms or `'10s'`), 1ms..30d. */
  ttl: Duration
  /** The owner token stored in the lease key. @default a random UUID */
  token?: string
}

/** A message published atomically with a release (to wake waiters). */
export interface LeaseNotice {
  channel: string
  message: string
}

interface LeaseScripts {
  renew: ScriptFn<number>
  release: ScriptFn<number>
}

const scriptsOf = new WeakMap<Connection, LeaseScripts>()

function scripts(conn: Connection): LeaseScripts {
  let s = scriptsOf.get(conn)
  if (!s) {
    s = {
      renew: conn.defineScript<number>('client:lease-renew', lua.leaseRenew, { keys: 1 }),
      release: conn.defineScript<number>('client:lease-release', lua.leaseRelease, { keys: 1 }),
    }
    scriptsOf.set(conn, s)
  }
  return s
}

/**
 * An owner-token lease on one Redis key: the family's one mechanism for "only one process does this for a
 * while" (a getOrSet factory, a stale-value refresh). `acquire()` is `SET key token NX PX ttl`; `renew()`
 * and `release()` are Lua scripts that act only while the key still holds this lease's token, so an owner
 * whose work ran past the lease never extends or deletes the next holder's lease. Commands go through the
 * guarded path of the connection (breaker, round-trip timeout, typed errors).
 */
export class Lease {
  /** The lease key. */
  readonly key: string
  /** This owner's token. */
  readonly token: string
  /** The lease length (ms). */
  readonly ttlMs: number
  readonly #conn: Connection
  readonly #scripts: LeaseScripts

  constructor(conn: Connection, key: string, options: LeaseOptions) {
    this.#conn = conn
    this.key = key
    this.ttlMs = parseDuration(options.ttl, { field: 'ttl', min: 1, max: 30 * 86_400_000, pkg: PKG })
    this.token = options.token ?? randomUUID()
    this.#scripts = scripts(conn)
  }

  /** Takes the lease when nobody holds it; true when this owner now holds it. */
  async acquire(): Promise<boolean> {
    const reply = await this.#conn.send<string | null>(
      ['SET', this.key, this.token, 'NX', 'PX', String(this.ttlMs)],
      {
        key: this.key,
        name: 'lease acquire',
      },
    )
    return reply === 'OK'
  }

  /** Extends the lease to `ttlMs` from now if this owner still holds it; false when it is no longer ours. */
  async renew(): Promise<boolean> {
    return Number(await this.#scripts.renew([this.key], [this.token, this.ttlMs])) === 1
  }

  /**
   * Deletes the lease if this owner still holds it (false when it expired or another owner holds it), and
   * publishes `notice` in the same script whether or not it was still ours.
   */
  async release(notice?: LeaseNotice): Promise<boolean> {
    const args = notice ? [this.token, notice.channel, notice.message] : [this.token]
    return Number(await this.#scripts.release([this.key], args)) === 1
  }

  /**
   * Renews the lease every `every` ms (default a third of its length) until the returned function is called.
   * A failed renewal is ignored (the next one may succeed; the owner check makes a late one harmless). The
   * timer does not keep the process alive.
   */
  keepAlive(every: number = this.ttlMs / 3): () => void {
    const timer = setInterval(() => {
      this.renew().catch(() => {})
    }, every)
    timer.unref()
    return () => clearInterval(timer)
  }
}
