import diagnostics from 'node:diagnostics_channel'
import { InvalidArgumentError } from '@cache/client'
import type { BoundCounter, BoundHistogram } from './bound.js'
import type { Counter, Histogram, Labels } from './instruments.js'
import type { Metrics } from './metrics.js'

const PKG = '@cache/metrics'

/** The packages `instrument()` knows; `'all'` subscribes to every one. */
export const INSTRUMENTED_PACKAGES = [
  'client',
  'core',
  'tiered',
  'locks',
  'ratelimit',
  'events',
  'session',
  'queue',
  'security',
] as const

/** A package `instrument()` can subscribe to. */
export type InstrumentedPackage = (typeof INSTRUMENTED_PACKAGES)[number]

/** Options of `instrument()`. */
export interface InstrumentOptions {
  /** Which packages' channels to subscribe to. @default 'all' */
  packages?: 'all' | readonly InstrumentedPackage[]
}

type Message = Record<string, unknown>

/** One channel and how its messages become a metric. Labels are bounded by construction. */
export interface ChannelBinding {
  channel: string
  pkg: InstrumentedPackage
  metric: string
  kind: 'counter' | 'histogram'
  help: string
  labels: readonly string[]
  /** Label values of a message. */
  map(message: Message): Labels
  /** Histograms: the observed value (seconds); counters: the increment (1 without it; ≤ 0 adds nothing). */
  value?(message: Message): number
  /**
   * A hot path (a message per cache read or per Redis command): the subscriber keeps a bound handle per
   * combination of the fields that determine the labels (`read`: namespace, tier, outcome; `command`:
   * command, topology of a successful command), so a message builds no labels and no series.
   */
  memo?: 'read' | 'command'
}

/** Most memoised handles per binding: beyond, messages take the plain path (labels are bounded anyway). */
const MEMO_MAX = 4_096

/** Bound handles by three field values (nested Maps: no key string is built). */
class HandleMemo<H> {
  readonly #root = new Map<unknown, Map<unknown, Map<unknown, H>>>()
  #size = 0
  readonly all: H[] = []

  /** The handle of (x, y, z), made on first sight; undefined once MEMO_MAX combinations exist. */
  get(x: unknown, y: unknown, z: unknown, make: () => H): H | undefined {
    let byY = this.#root.get(x)
    let byZ = byY?.get(y)
    let handle = byZ?.get(z)
    if (handle !== undefined) return handle
    if (this.#size >= MEMO_MAX) return undefined
    handle = make()
    this.#size++
    this.all.push(handle)
    if (!byY) {
      byY = new Map()
      this.#root.set(x, byY)
    }
    if (!byZ) {
      byZ = new Map()
      byY.set(y, byZ)
    }
    byZ.set(z, handle)
    return handle
  }
}

interface ReadMessage {
  namespace?: unknown
  tier?: unknown
  outcome?: unknown
}

/** Never published (module-private): `LastRead.same` without a frozen message; an object keeps the compare a pointer compare. */
const NOT_FROZEN: object = Object.freeze({})

/**
 * The last frozen message of a read channel and its handle (@cache/tiered publishes one frozen object per
 * cache and read kind, so a stream of its L1 hits is one pointer compare). Empty for other channels.
 */
class LastRead {
  /** The last message when it is frozen (its fields cannot have changed since), else NOT_FROZEN. */
  same: object = NOT_FROZEN
  handle: BoundCounter | undefined = undefined
}

/**
 * The function every subscription of `instrument()` is a closure of: a repeated frozen read message adds to
 * its handle here, anything else goes to the binding's own subscriber. Node's `publish()` calls every
 * channel's subscribers from one call site; while all its callees are closures of one function V8 keeps
 * that site monomorphic and inlines this body into the publisher (an L1 hit of @cache/tiered). A function
 * per kind of binding made it megamorphic: a full call per published read, ~20 ns of an L1 hit's ~30.
 */
function subscription(last: LastRead, rest: (message: unknown) => void): (message: unknown) => void {
  return (message) => {
    if (message === last.same && last.handle !== undefined) return last.handle.add(1)
    rest(message)
  }
}

/**
 * The subscriber of a cache-read channel (behind `subscription`, which handles a repeated frozen message):
 * the last message's namespace, tier and outcome are compared first (a stream of reads of one cache repeats
 * them, also when each read is a new object, as @cache/core's) and its handle incremented; otherwise three
 * Map lookups. Named field reads in a function of its own keep the property accesses monomorphic.
 */
function readSubscriber(
  counter: Counter,
  map: (m: Message) => Labels,
  memo: HandleMemo<BoundCounter>,
  last: LastRead,
): (message: unknown) => void {
  let ns: unknown
  let tier: unknown
  let outcome: unknown
  return (message) => {
    if (message === null || typeof message !== 'object') return
    const m = message as ReadMessage
    const a = m.namespace
    const b = m.tier
    const c = m.outcome
    const previous = last.handle
    if (a === ns && b === tier && c === outcome && previous !== undefined) {
      last.same = Object.isFrozen(m) ? m : NOT_FROZEN
      return previous.add(1)
    }
    const handle = memo.get(a, b, c, () => counter.bind(map(m as Message)))
    if (handle === undefined) return counter.inc(map(m as Message))
    last.handle = handle
    last.same = Object.isFrozen(m) ? m : NOT_FROZEN
    ns = a
    tier = b
    outcome = c
    handle.add(1)
  }
}

interface CommandMessage {
  command?: unknown
  topology?: unknown
  ok?: unknown
  durationMs?: unknown
}

/**
 * The subscriber of `cache:client:command`: a bound histogram per (command, topology) of successful commands,
 * the previous message's compared first.
 */
function commandSubscriber(
  histogram: Histogram,
  binding: ChannelBinding,
  memo: HandleMemo<BoundHistogram>,
): (message: unknown) => void {
  const value = binding.value!
  const map = binding.map
  let last: BoundHistogram | undefined
  let command: unknown
  let topology: unknown
  return (message) => {
    if (message === null || typeof message !== 'object') return
    const m = message as CommandMessage
    const v = value(m as Message)
    if (!Number.isFinite(v)) return
    if (m.ok === true) {
      const a = m.command
      const b = m.topology
      if (a === command && b === topology && last !== undefined) return last.add(v)
      const handle = memo.get(a, b, true, () => histogram.bind(map(m as Message)))
      if (handle !== undefined) {
        last = handle
        command = a
        topology = b
        return handle.add(v)
      }
    }
    histogram.observe(v, map(m as Message))
  }
}

/** A label value from a message field: short, bounded-looking strings only; anything else is 'other'. */
function bounded(value: unknown, fallback = 'none'): string {
  if (value === undefined || value === null) return fallback
  const s = String(value)
  return /^[A-Za-z0-9_.:\- ]{1,64}$/.test(s) ? s : 'other'
}

/**
 * Every channel `instrument()` subscribes to. The session, queue and security packages are subscribed by their
 * documented names; a channel that never fires costs nothing. Labels never carry a key, a channel name,
 * a session handle or a user id.
 */
export const CHANNEL_BINDINGS: readonly ChannelBinding[] = [
  {
    channel: 'cache:client:command',
    pkg: 'client',
    metric: 'cache_redis_command_duration_seconds',
    kind: 'histogram',
    help: 'Redis commands sent by @cache packages, by command, topology and outcome',
    labels: ['command', 'topology', 'outcome'],
    map: (m) => ({
      command: bounded(String(m.command ?? '').split(' ')[0]),
      topology: bounded(m.topology),
      outcome: m.ok ? 'ok' : bounded(m.errorCode, 'error'),
    }),
    value: (m) => Number(m.durationMs) / 1000,
    // Failed commands (rare) take the plain path: their outcome is the error code, not a memo field.
    memo: 'command',
  },
  {
    channel: 'cache:client:breaker',
    pkg: 'client',
    metric: 'cache_breaker_transitions_total',
    kind: 'counter',
    help: 'Circuit-breaker transitions of the connection',
    labels: ['topology', 'state'],
    map: (m) => ({ topology: bounded(m.topology), state: bounded(m.state) }),
  },
  {
    channel: 'cache:core:get',
    pkg: 'core',
    metric: 'cache_requests_total',
    kind: 'counter',
    help: 'Cache reads by cache namespace, tier and outcome (hit, miss, stale)',
    labels: ['namespace', 'tier', 'outcome'],
    map: (m) => ({
      namespace: bounded(m.namespace),
      tier: bounded(m.tier, 'redis'),
      outcome: bounded(m.outcome),
    }),
    memo: 'read',
  },
  {
    channel: 'cache:core:invalidate',
    pkg: 'core',
    metric: 'cache_invalidations_total',
    kind: 'counter',
    help: 'Invalidations by cache namespace and kind (key, tags, pattern, clear)',
    labels: ['namespace', 'kind'],
    map: (m) => ({ namespace: bounded(m.namespace), kind: bounded(m.kind) }),
  },
  ...(['fail-safe', 'coherence', 'refresh-error', 'offline-write', 'get'] as const).map(
    (event): ChannelBinding =>
      event === 'get'
        ? {
            channel: 'cache:tiered:get',
            pkg: 'tiered',
            metric: 'cache_requests_total',
            kind: 'counter',
            help: 'Cache reads by cache namespace, tier and outcome (hit, miss, stale)',
            labels: ['namespace', 'tier', 'outcome'],
            map: (m) => ({
              namespace: bounded(m.namespace),
              tier: bounded(m.tier, 'l1'),
              outcome: bounded(m.outcome),
            }),
            memo: 'read',
          }
        : {
            channel: `cache:tiered:${event}`,
            pkg: 'tiered',
            metric: 'cache_tiered_events_total',
            kind: 'counter',
            help: 'Tiered-cache events: fail-safe serves, coherence changes, refresh errors, offline writes',
            labels: ['namespace', 'event'],
            map: (m) => ({ namespace: bounded(m.namespace), event }),
          },
  ),
  ...(['lost', 'held-too-long'] as const).map(
    (event): ChannelBinding => ({
      channel: `cache:locks:${event}`,
      pkg: 'locks',
      metric: 'cache_lock_events_total',
      kind: 'counter',
      help: 'Lock leases lost or held too long',
      labels: ['event'],
      map: () => ({ event }),
    }),
  ),
  {
    channel: 'cache:locks:wait',
    pkg: 'locks',
    metric: 'cache_lock_wait_seconds',
    kind: 'histogram',
    help: 'Time spent waiting for a lock, by outcome',
    labels: ['outcome'],
    map: (m) => ({ outcome: bounded(m.outcome ?? (m.acquired === false ? 'timeout' : 'acquired')) }),
    value: (m) => Number(m.waitedMs ?? m.durationMs) / 1000,
  },
  {
    channel: 'cache:ratelimit:decision',
    pkg: 'ratelimit',
    metric: 'cache_ratelimit_decisions_total',
    kind: 'counter',
    help: 'Rate-limit decisions by rule, outcome and source',
    labels: ['rule', 'outcome', 'source'],
    map: (m) => ({
      rule: bounded(Array.isArray(m.rules) ? m.rules.join('+') : m.rules),
      outcome: m.allowed ? 'allowed' : 'denied',
      source: bounded(m.source),
    }),
  },
  {
    channel: 'cache:ratelimit:outage',
    pkg: 'ratelimit',
    metric: 'cache_ratelimit_outages_total',
    kind: 'counter',
    help: 'Rate-limiter outage transitions (down, up) by policy',
    labels: ['state', 'policy'],
    map: (m) => ({ state: bounded(m.state), policy: bounded(m.policy) }),
  },
  ...(['invalid', 'handler-error', 'dead-letter'] as const).map(
    (event): ChannelBinding => ({
      channel: `cache:events:${event}`,
      pkg: 'events',
      metric: 'cache_events_errors_total',
      kind: 'counter',
      help: 'Event messages that failed validation, whose handler threw, or that were dead-lettered',
      labels: ['kind', 'event'],
      map: (m) => ({ kind: bounded(m.kind), event }),
    }),
  ),
  ...(['created', 'revoked', 'token-reuse', 'destroyed', 'regenerated'] as const).map(
    (event): ChannelBinding => ({
      channel: `cache:session:${event}`,
      pkg: 'session',
      metric: 'cache_session_events_total',
      kind: 'counter',
      help: 'Session lifecycle events (created, revoked, destroyed, regenerated, refresh-token reuse)',
      labels: ['event', 'reason'],
      map: (m) => ({ event, reason: bounded(m.reason) }),
    }),
  ),
  {
    channel: 'cache:session:sweep',
    pkg: 'session',
    metric: 'cache_session_sweeps_total',
    kind: 'counter',
    help: 'Periodic sweeps of the session indexes by outcome (ok, pending: more indexes were due, error)',
    labels: ['outcome'],
    map: (m) => ({ outcome: 'error' in m ? 'error' : m.pending === true ? 'pending' : 'ok' }),
  },
  ...(
    [
      ['user', 'removed'],
      ['live', 'live'],
    ] as const
  ).map(
    ([index, field]): ChannelBinding => ({
      channel: 'cache:session:sweep',
      pkg: 'session',
      metric: 'cache_session_sweep_removed_total',
      kind: 'counter',
      help: "Entries of expired sessions removed by the sweeps, from the per-user indexes (user) and the tenants' live sets (live)",
      labels: ['index'],
      map: () => ({ index }),
      value: (m) => Number(m[field]),
    }),
  ),
  ...(['completed', 'failed', 'retried', 'stalled', 'dead-letter'] as const).map(
    (event): ChannelBinding => ({
      channel: `cache:queue:${event}`,
      pkg: 'queue',
      metric: 'cache_queue_jobs_total',
      kind: 'counter',
      help: 'Queue jobs by queue name and event (completed, failed, retried, stalled, dead-letter)',
      labels: ['queue', 'event'],
      map: (m) => ({ queue: bounded(m.queue), event }),
    }),
  ),
  ...(
    [
      ['run', 'runMs', 'Run time of completed queue jobs (their handler), by queue'],
      [
        'wait',
        'waitMs',
        'Time completed queue jobs waited, from enqueue (plus their delay) to the start of the run, by queue',
      ],
    ] as const
  ).map(
    ([what, field, help]): ChannelBinding => ({
      channel: 'cache:queue:completed',
      pkg: 'queue',
      metric: `cache_queue_${what}_seconds`,
      kind: 'histogram',
      help,
      labels: ['queue'],
      map: (m) => ({ queue: bounded(m.queue) }),
      // A message without the field (an older @cache/queue has no waitMs) observes nothing.
      value: (m) => (typeof m[field] === 'number' ? (m[field] as number) / 1000 : Number.NaN),
    }),
  ),
  ...(['denied', 'decrypt-error', 'key-rotated'] as const).map(
    (event): ChannelBinding => ({
      channel: `cache:security:${event}`,
      pkg: 'security',
      metric: 'cache_security_events_total',
      kind: 'counter',
      help: 'Security events (denied, decrypt errors, key rotations)',
      labels: ['event'],
      map: () => ({ event }),
    }),
  ),
]

/**
 * Subscribes `metrics` to the diagnostics channels every @cache package publishes and returns a function that
 * unsubscribes. Only bounded labels are recorded (cache namespace, tier, command, outcome, rule name).
 * @example const stop = instrument(metrics, { packages: 'all' })
 */
export function instrument(metrics: Metrics, options: InstrumentOptions = {}): () => void {
  const wanted = options.packages ?? 'all'
  if (wanted !== 'all') {
    if (!Array.isArray(wanted))
      throw new InvalidArgumentError(PKG, 'packages', "must be 'all' or a list of packages")
    for (const p of wanted) {
      if (!INSTRUMENTED_PACKAGES.includes(p)) {
        throw new InvalidArgumentError(
          PKG,
          'packages',
          `"${String(p)}" is not one of ${INSTRUMENTED_PACKAGES.join(', ')}`,
        )
      }
    }
  }
  const subscriptions: Array<[string, (message: unknown) => void]> = []
  const memos: Array<HandleMemo<BoundCounter> | HandleMemo<BoundHistogram>> = []
  for (const binding of CHANNEL_BINDINGS) {
    if (wanted !== 'all' && !wanted.includes(binding.pkg)) continue
    const { map, value } = binding
    let onMessage: (message: unknown) => void
    const last = new LastRead()
    if (binding.kind === 'counter') {
      const counter = metrics.counter(binding.metric, { help: binding.help, labels: binding.labels })
      if (binding.memo === 'read') {
        const memo = new HandleMemo<BoundCounter>()
        memos.push(memo)
        onMessage = readSubscriber(counter, map, memo, last)
      } else {
        onMessage = (message) => {
          if (!message || typeof message !== 'object') return
          const m = message as Message
          if (!value) return counter.inc(map(m))
          const n = value(m)
          if (n > 0 && Number.isFinite(n)) counter.inc(n, map(m))
        }
      }
    } else {
      const histogram = metrics.histogram(binding.metric, { help: binding.help, labels: binding.labels })
      if (binding.memo === 'command') {
        const memo = new HandleMemo<BoundHistogram>()
        memos.push(memo)
        onMessage = commandSubscriber(histogram, binding, memo)
      } else {
        onMessage = (message) => {
          if (!message || typeof message !== 'object') return
          const m = message as Message
          const v = value!(m)
          if (Number.isFinite(v)) histogram.observe(v, map(m))
        }
      }
    }
    const subscriber = subscription(last, onMessage)
    diagnostics.subscribe(binding.channel, subscriber)
    subscriptions.push([binding.channel, subscriber])
  }
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    for (const [channel, fn] of subscriptions) diagnostics.unsubscribe(channel, fn)
    // What the handles counted since the last boundary goes into the current bucket, then they are dropped.
    for (const memo of memos) for (const handle of memo.all) handle.release()
  }
}
