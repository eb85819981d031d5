import diagnostics from 'node:diagnostics_channel'
import { Lease } from '@cache/client'
import type { SessionEngine } from './engine.js'

/** diagnostics_channel `cache:session:sweep`: a SweepReport after each periodic sweep, or `{ error }`. */
export const sweepChannel = diagnostics.channel('cache:session:sweep')

/** What one sweep did. */
export interface SweepReport {
  /** Per-user indexes visited. */
  users: number
  /** Sessions looked up (bounded by `sweepBatch` × the per-index cap). */
  checked: number
  /** Index entries of expired or deleted sessions removed. */
  removed: number
  /** Entries of expired sessions removed from the tenants' live sets. */
  live: number
  /** More indexes were due than one sweep visits (`sweepBatch`): the next sweep goes on. */
  pending: boolean
}

/** Sessions checked per index per sweep: a user with more is visited again on the next one. */
export const SWEEP_PER_INDEX = 1_000

/**
 * The periodic clean-up of the per-user indexes: entries of sessions that expired by their TTL (which Redis
 * deletes without telling anyone) leave the index here, as they also do lazily in `listByUser`. Work per
 * sweep is bounded: at most `batch` indexes, those due first (a zset of indexes by the earliest time one of
 * their sessions may expire), each checked with one PEXPIRETIME per session, never a SCAN of the keyspace.
 * Every key is used on its own, so it runs unchanged on standalone, Sentinel and Cluster. A Lease lets one
 * process of the fleet sweep per interval.
 */
export class IndexSweeper {
  readonly #engine: SessionEngine
  readonly #batch: number
  readonly #intervalMs: number | false
  readonly #lease: Lease | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> | undefined
  #stopped = false

  constructor(engine: SessionEngine, options: { batch: number; intervalMs: number | false }) {
    this.#engine = engine
    this.#batch = options.batch
    this.#intervalMs = options.intervalMs
    this.#lease =
      options.intervalMs === false
        ? undefined
        : new Lease(engine.conn, engine.keys.sweepLease(), { ttl: Math.max(1, options.intervalMs - 50) })
  }

  /** Starts the periodic sweep (no-op without an interval). The timer never keeps the process alive. */
  start(): void {
    if (this.#intervalMs === false || this.#stopped) return
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  /** Stops the periodic sweep and waits for a running one. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running?.catch(() => {})
  }

  #tick(): void {
    this.#running = (async () => {
      try {
        if (await this.#lease!.acquire()) sweepChannel.publish(await this.sweep())
      } catch (error) {
        sweepChannel.publish({ error })
      }
    })().finally(() => {
      this.#running = undefined
      if (!this.#stopped) this.start()
    })
  }

  /** One bounded sweep now. */
  async sweep(now = Date.now()): Promise<SweepReport> {
    const { conn, keys } = this.#engine
    const report: SweepReport = { users: 0, checked: 0, removed: 0, live: 0, pending: false }
    const tenantsKey = keys.tenants()
    const tenants = (await conn.send<string[]>(['SMEMBERS', tenantsKey], { key: tenantsKey })).map(String)
    const trimmed = await Promise.all(
      tenants.map((t) => {
        const live = keys.live(t)
        return conn.send<number>(['ZREMRANGEBYSCORE', live, '-inf', String(now)], { key: live })
      }),
    )
    report.live = trimmed.reduce((a, n) => a + Number(n), 0)

    const sweepKey = keys.sweep()
    const due = (
      await conn.send<string[]>(
        ['ZRANGE', sweepKey, '-inf', String(now), 'BYSCORE', 'LIMIT', '0', String(this.#batch + 1)],
        { key: sweepKey },
      )
    ).map(String)
    report.pending = due.length > this.#batch
    await Promise.all(due.slice(0, this.#batch).map((member) => this.#sweepIndex(member, now, report)))
    return report
  }

  async #sweepIndex(member: string, now: number, report: SweepReport): Promise<void> {
    const { conn, keys } = this.#engine
    const colon = member.indexOf(':')
    const tenant = member.slice(0, colon)
    const userId = member.slice(colon + 1)
    const idx = keys.user(tenant, userId)
    const sweepKey = keys.sweep()
    report.users++
    // Scores are absolute deadlines: anything past one is gone for sure.
    const pastDeadline = Number(await conn.send(['ZREMRANGEBYSCORE', idx, '-inf', String(now)], { key: idx }))
    const handles = (
      await conn.send<string[]>(['ZRANGE', idx, '0', String(SWEEP_PER_INDEX - 1)], { key: idx })
    ).map(String)
    const expiries = await Promise.all(
      handles.map((h) => {
        const key = keys.session(tenant, h)
        return conn.send<number>(['PEXPIRETIME', key], { key }).then(Number)
      }),
    )
    report.checked += handles.length
    const dead = handles.filter((_, i) => expiries[i]! < 0 || expiries[i]! <= now)
    if (dead.length) await conn.send(['ZREM', idx, ...dead], { key: idx })
    report.removed += pastDeadline + dead.length
    const alive = expiries.filter((e) => e > now)
    if (alive.length === 0 && handles.length < SWEEP_PER_INDEX) {
      await conn.send(['ZREM', sweepKey, member], { key: sweepKey })
      // A session created since the ZRANGE above may have found the member still due (its ZADD LT changed
      // nothing): keep such an index in the sweep.
      if (Number(await conn.send(['ZCARD', idx], { key: idx })) > 0)
        await conn.send(['ZADD', sweepKey, 'NX', String(now), member], { key: sweepKey })
      return
    }
    // Next visit: when the first live session checked may expire (a touch since only moves that later, so
    // the visit is early, never late); an index with more than SWEEP_PER_INDEX entries is visited again now.
    const next = alive.length ? Math.min(...alive) : now
    await conn.send(['ZADD', sweepKey, String(next), member], { key: sweepKey })
  }
}
