import { EventEmitter } from 'node:events'
import {
  backoff,
  type Connection,
  type Duration,
  hgetallRecord,
  InvalidArgumentError,
  type KeyBuilder,
  parseDuration,
  sleep,
} from '@cache/client'
import type { PubSub } from '@cache/events'
import type { LeaderElection } from '@cache/locks'
import { z } from 'zod'
import type { Labels } from './instruments.js'
import { alertStateKey } from './keys.js'
import type { QueryFn, QueryOptions, QueryResult } from './query.js'

const PKG = '@cache/metrics'

/** What a rule measures over its window. */
export type AlertExpr =
  /**
   * `increase(of[0]) / increase(of[1])` over the window (hit ratio, error ratio); each side a metric name or
   * `{ name, labels }` (e.g. `[{ name: 'cache_requests_total', labels: { outcome: 'hit' } }, 'cache_requests_total']`).
   */
  | { fn: 'ratio'; of: readonly [RatioSide, RatioSide]; labels?: Labels }
  /** One query over the window (`fn` as in `metrics.query`: rate, increase, p99, avg, max…). */
  | { fn: QueryFn; name: string; labels?: Labels }

/** One side of a ratio: a metric, optionally filtered by labels. */
export type RatioSide = string | { name: string; labels?: Labels }

/** One alert rule. Exactly one of `above` / `below`. */
export interface AlertRule {
  /** Unique, bounded name (`[a-zA-Z0-9_.-]`), the label of its notifications. */
  name: string
  expr: AlertExpr
  /** Fires when the value is above this. */
  above?: number
  /** Fires when the value is below this. */
  below?: number
  /** The condition must hold this long before the alert fires (pending meanwhile). @default 0 */
  for?: Duration
  /** The range each evaluation reads, ending now. @default '5m' */
  window?: Duration
  /** A firing alert resolves only once the value is back past the threshold by this much. @default 0 */
  hysteresis?: number
  /** Free-form severity carried in notifications. @default 'warning' */
  severity?: string
}

/** Where notifications go. */
export interface AlertNotify {
  /** A @cache/events pub/sub channel (typed by `alertNotificationSchema`). @default 'alerts' */
  channel?: string | false
  /** POSTs every notification as JSON; retried with backoff on failure. */
  webhook?: { url: string; headers?: Record<string, string>; retries?: number; timeout?: Duration }
}

/** Options of `metrics.alerts()`. */
export interface AlertsOptions {
  notify?: AlertNotify
  /** How often the leader evaluates the rules. @default '15s' */
  interval?: Duration
  /** Leader-election name: processes sharing it evaluate and notify one at a time. @default 'metrics-alerts' */
  election?: string
  /** Leadership lease. @default '10s' */
  leaseTtl?: Duration
  /** Start campaigning and evaluating on an interval at once; false: call `start()` or `evaluate()`. @default true */
  autoStart?: boolean
}

/** A notification: the typed payload on the pub/sub channel, the webhook body and the emitted event. */
export const alertNotificationSchema = z.object({
  rule: z.string(),
  state: z.enum(['firing', 'resolved']),
  value: z.number().nullable(),
  threshold: z.number(),
  op: z.enum(['above', 'below']),
  severity: z.string(),
  /** When the condition started to hold (ms). */
  since: z.number(),
  /** The evaluation time (ms). */
  at: z.number(),
  /** The leader's term (a fencing token) that sent it. */
  term: z.number(),
})
export type AlertNotification = z.infer<typeof alertNotificationSchema>

/** The state of one rule, shared in Redis so a new leader neither re-notifies nor forgets a pending alert. */
export interface AlertState {
  state: 'inactive' | 'pending' | 'firing'
  since: number
  value: number | null
}

/** A rule after validation and defaults. */
export interface ResolvedAlertRule {
  name: string
  expr: AlertExpr
  op: 'above' | 'below'
  threshold: number
  forMs: number
  windowMs: number
  hysteresis: number
  severity: string
}

/** What `Alerts` needs from `Metrics`. */
export interface AlertsHost {
  readonly connection: Connection
  readonly keys: KeyBuilder
  readonly options: { clock: () => number; namespace: string }
  query(options: QueryOptions): Promise<QueryResult>
}

const RULE_NAME = /^[a-zA-Z0-9_.-]{1,128}$/

function duration(field: string, value: Duration | undefined, fallback: number): number {
  if (value === undefined) return fallback
  try {
    const ms = parseDuration(value)
    if (ms >= 0) return ms
  } catch {}
  throw new InvalidArgumentError(PKG, field, `must be a duration, got ${JSON.stringify(value)}`)
}

function resolveRules(rules: readonly AlertRule[]): ResolvedAlertRule[] {
  if (!Array.isArray(rules) || rules.length === 0) {
    throw new InvalidArgumentError(PKG, 'rules', 'must be a non-empty list of rules')
  }
  const seen = new Set<string>()
  return rules.map((r, i) => {
    const at = `rules[${i}]`
    if (!r || typeof r.name !== 'string' || !RULE_NAME.test(r.name)) {
      throw new InvalidArgumentError(PKG, `${at}.name`, 'must match [a-zA-Z0-9_.-]{1,128}')
    }
    if (seen.has(r.name)) throw new InvalidArgumentError(PKG, `${at}.name`, `"${r.name}" is listed twice`)
    seen.add(r.name)
    const e = r.expr as Partial<{ fn: string; of: unknown; name: unknown }> | undefined
    if (!e || typeof e.fn !== 'string') throw new InvalidArgumentError(PKG, `${at}.expr`, 'must have a fn')
    if (e.fn === 'ratio') {
      const side = (n: unknown) =>
        typeof n === 'string' ||
        (!!n && typeof n === 'object' && typeof (n as { name?: unknown }).name === 'string')
      if (!Array.isArray(e.of) || e.of.length !== 2 || !e.of.every(side)) {
        throw new InvalidArgumentError(PKG, `${at}.expr.of`, 'must be [numerator, denominator] metric names')
      }
    } else if (typeof e.name !== 'string') {
      throw new InvalidArgumentError(PKG, `${at}.expr.name`, 'must be a metric name')
    }
    const hasAbove = typeof r.above === 'number' && Number.isFinite(r.above)
    const hasBelow = typeof r.below === 'number' && Number.isFinite(r.below)
    if (hasAbove === hasBelow) {
      throw new InvalidArgumentError(
        PKG,
        `${at}.above`,
        'exactly one of "above" and "below" must be a number',
      )
    }
    const hysteresis = r.hysteresis ?? 0
    if (!(hysteresis >= 0) || !Number.isFinite(hysteresis)) {
      throw new InvalidArgumentError(PKG, `${at}.hysteresis`, 'must be a finite number ≥ 0')
    }
    return {
      name: r.name,
      expr: r.expr,
      op: hasAbove ? 'above' : 'below',
      threshold: (hasAbove ? r.above : r.below)!,
      forMs: duration(`${at}.for`, r.for, 0),
      windowMs: duration(`${at}.window`, r.window, 5 * 60_000),
      hysteresis,
      severity: typeof r.severity === 'string' ? r.severity : 'warning',
    }
  })
}

/**
 * Alert rules evaluated over the stored series by one process at a time (leader election from
 * @cache/locks). Each rule moves inactive → pending (condition holds) → firing (held for `for`) → resolved
 * (back past the threshold by `hysteresis`); the state lives in Redis, so a new leader neither repeats a
 * notification nor restarts a pending timer. Notifications go to a @cache/events channel and an optional
 * webhook, and are emitted as `firing` / `resolved` events on the leader.
 *
 * Events: `firing`, `resolved` (AlertNotification), `error` (evaluation or delivery failures, if listened to).
 */
export class Alerts extends EventEmitter {
  readonly rules: readonly ResolvedAlertRule[]
  readonly #host: AlertsHost
  readonly #notify: AlertNotify
  readonly #intervalMs: number
  readonly #electionName: string
  readonly #leaseMs: number
  #election: LeaderElection | undefined
  #bus: PubSub<Record<string, typeof alertNotificationSchema>> | undefined
  #timer: NodeJS.Timeout | undefined
  #starting: Promise<void> | undefined
  #closed = false
  #running: Promise<AlertNotification[]> | undefined

  constructor(host: AlertsHost, rules: readonly AlertRule[], options: AlertsOptions = {}) {
    super()
    this.#host = host
    this.rules = Object.freeze(resolveRules(rules))
    this.#notify = options.notify ?? {}
    const hook = this.#notify.webhook
    if (hook !== undefined) {
      try {
        new URL(hook.url)
      } catch {
        throw new InvalidArgumentError(PKG, 'notify.webhook.url', 'must be a URL')
      }
    }
    this.#intervalMs = duration('interval', options.interval, 15_000)
    this.#electionName = options.election ?? 'metrics-alerts'
    this.#leaseMs = duration('leaseTtl', options.leaseTtl, 10_000)
    if (options.autoStart !== false) void this.start().catch((err) => this.#fail(err))
  }

  /** True while this process is the one evaluating and notifying. */
  get isLeader(): boolean {
    return this.#election?.isLeader === true
  }

  /** Campaigns for leadership and evaluates every `interval` while leader. Idempotent. */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      const [{ LeaderElection }, { PubSub }] = await Promise.all([
        import('@cache/locks'),
        import('@cache/events'),
      ])
      const conn = this.#host.connection
      // One election per metrics namespace and name (the locks namespace is the default 'leader').
      this.#election = new LeaderElection(conn, `${this.#host.options.namespace}:${this.#electionName}`, {
        ttl: this.#leaseMs,
      })
      this.#election.on('error', (err) => this.#fail(err))
      if (this.#notify.channel !== false) {
        this.#bus = new PubSub(conn, {
          schemas: { [this.#notify.channel ?? 'alerts']: alertNotificationSchema },
        })
      }
      if (this.#closed) return
      await this.#election.start()
      this.#timer = setInterval(() => void this.evaluate().catch((err) => this.#fail(err)), this.#intervalMs)
      this.#timer.unref()
    })()
    return this.#starting
  }

  /** Resolves once this process is the leader (or after `timeoutMs`, with false). */
  async waitForLeadership(timeoutMs = 30_000): Promise<boolean> {
    await this.start()
    const deadline = Date.now() + timeoutMs
    while (!this.isLeader && Date.now() < deadline && !this.#closed) await sleep(20)
    return this.isLeader
  }

  /** The stored state of every rule. */
  async states(): Promise<Record<string, AlertState>> {
    const key = alertStateKey(this.#host.keys)
    const raw = hgetallRecord<string>(await this.#host.connection.send(['HGETALL', key], { key }))
    const out: Record<string, AlertState> = {}
    for (const rule of this.rules) {
      out[rule.name] = raw[rule.name]
        ? (JSON.parse(raw[rule.name]!) as AlertState)
        : { state: 'inactive', since: 0, value: null }
    }
    return out
  }

  /** The value of a rule's expression over its window ending at `now` (null: no data). */
  async value(rule: ResolvedAlertRule, now: number): Promise<number | null> {
    const from = now - rule.windowMs
    const one = async (name: string, fn: QueryFn, labels: Labels | undefined): Promise<number | null> => {
      const r = await this.#host.query({
        name,
        fn,
        from,
        to: now,
        step: rule.windowMs,
        ...(labels ? { labels } : {}),
      })
      const vals = r.points.map((p) => p.value).filter((v): v is number => v !== null)
      if (vals.length === 0) return null
      if (fn === 'increase' || fn === 'sum') return vals.reduce((a, b) => a + b, 0)
      return vals[vals.length - 1]!
    }
    if (rule.expr.fn === 'ratio') {
      const read = (side: RatioSide) => {
        const s = typeof side === 'string' ? { name: side } : side
        const labels = s.labels ?? rule.expr.labels
        return one(s.name, 'increase', labels)
      }
      const [num, den] = (rule.expr as { of: readonly [RatioSide, RatioSide] }).of
      const [n, d] = await Promise.all([read(num), read(den)])
      return d === null || d === 0 ? null : (n ?? 0) / d
    }
    return one((rule.expr as { name: string }).name, rule.expr.fn, rule.expr.labels)
  }

  /**
   * One evaluation of every rule at the metrics clock's now, if this process is the leader (else nothing):
   * resolves to the notifications sent. Runs are serialised.
   */
  evaluate(): Promise<AlertNotification[]> {
    const run = async (): Promise<AlertNotification[]> => {
      const election = this.#election
      if (this.#closed || !election?.isLeader) return []
      const term = election.term ?? 0
      const now = this.#host.options.clock()
      const states = await this.states()
      const sent: AlertNotification[] = []
      const key = alertStateKey(this.#host.keys)
      for (const rule of this.rules) {
        const value = await this.value(rule, now)
        const prev = states[rule.name]!
        const next = step(rule, prev, value, now)
        if (next.state !== prev.state || next.value !== prev.value) {
          await this.#host.connection.send(['HSET', key, rule.name, JSON.stringify(next)], { key })
        }
        const fired = prev.state !== 'firing' && next.state === 'firing'
        const resolved = prev.state === 'firing' && next.state !== 'firing'
        if (!fired && !resolved) continue
        const n: AlertNotification = {
          rule: rule.name,
          state: fired ? 'firing' : 'resolved',
          value,
          threshold: rule.threshold,
          op: rule.op,
          severity: rule.severity,
          since: fired ? next.since : prev.since,
          at: now,
          term,
        }
        sent.push(n)
        await this.#deliver(n)
      }
      return sent
    }
    const next = (this.#running ? this.#running.then(run, run) : run()).finally(() => {
      if (this.#running === next) this.#running = undefined
    })
    this.#running = next
    return next
  }

  async #deliver(n: AlertNotification): Promise<void> {
    this.emit(n.state, n)
    if (this.#bus) {
      try {
        await this.#bus.publish(this.#notify.channel || 'alerts', n)
      } catch (err) {
        this.#fail(err)
      }
    }
    const hook = this.#notify.webhook
    if (!hook) return
    const retries = hook.retries ?? 3
    const timeoutMs = duration('notify.webhook.timeout', hook.timeout, 5_000)
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...hook.headers },
          body: JSON.stringify(n),
          signal: AbortSignal.timeout(timeoutMs),
        })
        await res.arrayBuffer().catch(() => {})
        if (res.ok) return
        if (res.status < 500 && res.status !== 429) throw new Error(`webhook answered ${res.status}`)
        if (attempt >= retries)
          throw new Error(`webhook answered ${res.status} after ${attempt + 1} attempts`)
      } catch (err) {
        if (attempt >= retries || (err as Error).message.startsWith('webhook answered')) {
          this.#fail(err)
          return
        }
      }
      await sleep(backoff({ attempt, base: 200, max: 5_000, jitter: 0.2 }))
    }
  }

  #fail(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }

  /** Stops evaluating and resigns leadership. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    await this.#starting?.catch(() => {})
    await this.#running?.catch(() => {})
    await this.#election?.close()
    await this.#bus?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** The state machine of one rule: pending while the condition holds for less than `for`, then firing. */
export function step(
  rule: ResolvedAlertRule,
  prev: AlertState,
  value: number | null,
  now: number,
): AlertState {
  if (value === null) return prev // no data: keep the current state
  const holds = rule.op === 'above' ? value > rule.threshold : value < rule.threshold
  if (prev.state === 'firing') {
    const cleared =
      rule.op === 'above'
        ? value <= rule.threshold - rule.hysteresis
        : value >= rule.threshold + rule.hysteresis
    return cleared ? { state: 'inactive', since: now, value } : { ...prev, value }
  }
  if (!holds) return { state: 'inactive', since: now, value }
  const since = prev.state === 'pending' ? prev.since : now
  return { state: now - since >= rule.forMs ? 'firing' : 'pending', since, value }
}
