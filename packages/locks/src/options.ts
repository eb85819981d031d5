import { type Duration, InvalidArgumentError, parseOptions, zDuration } from '@cache/client'
import { z } from 'zod'
import * as D from './defaults.js'

const PKG = '@cache/locks'

/** How fencing tokens are generated. */
export type FencingMode = 'clock' | 'counter'

/** Options shared by LockManager, Semaphore, ReadWriteLock, Redlock and LeaderElection. */
export interface CommonOptions {
  /** Key namespace under the connection's namespace (`<conn namespace>:<namespace>:{resource}`). */
  namespace?: string
  /**
   * `'clock'`: token = max(previous + 1, server time in µs), so tokens keep increasing even when a server
   * restarts without persistence or fails over to a replica that missed the last increments (as long as the
   * servers' clocks do not step back). `'counter'`: a plain INCR counter (1, 2, 3…), monotonic only while
   * the counter key survives (persistence, replication).
   * @default 'clock'
   */
  fencing?: FencingMode
  /** Fallback poll while waiting, jittered ±50%, in case a wake-up message is lost. @default '500ms' */
  retryInterval?: Duration
}

/** Options of `new LockManager(conn, options)`. */
export interface LockManagerOptions extends CommonOptions {
  /** @default 'lock' */
  namespace?: string
  /** This process's name in diagnostics (wait-for view, holder of a lock). @default host:pid:random */
  id?: string
  /** Emit `held-too-long` (and `cache:locks:held-too-long`) when a lock is held longer than this. */
  heldTooLong?: Duration
}

/** Options of one acquisition. */
export interface AcquireOptions {
  /** Lease length; the lock expires on the server this long after acquisition or the last extension. @default '10s' */
  ttl?: Duration
  /** How long to wait for the lock before E_LOCK_TIMEOUT; 0 = one attempt. @default '5s' */
  waitTimeout?: Duration
  /** Extend the lease every ttl/3 while held (watchdog); `lock.signal` aborts if it cannot. @default false */
  autoExtend?: boolean
  /** Aborts the wait (E_LOCK_ABORTED). */
  signal?: AbortSignal
  /** Mutex only: first come, first served among waiters. @default false */
  fair?: boolean
  /** Mutex only: re-acquiring with the same `owner` nests (hold count) instead of waiting. @default false */
  reentrant?: boolean
  /** Owner identity for reentrancy; unique per acquisition by default. */
  owner?: string
  /** Mutex only: after acquiring, WAIT until this many replicas have the lock, else release and fail. @default 0 */
  waitReplicas?: number
  /** How long to WAIT for `waitReplicas`. @default '1s' */
  replicaTimeout?: Duration
}

/** A key namespace part: what KeyBuilder accepts, so a bad namespace is reported as `namespace`. */
const namespace = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._\-@/=+,;!$&()']+(:[A-Za-z0-9._\-@/=+,;!$&()']+)*$/, {
      message: "must be ':'-separated parts of letters, digits and ._-@/=+,;!$&()'",
    })
    .max(128)
    .default(fallback)

const common = {
  fencing: z.enum(['clock', 'counter']).default(D.DEFAULT_FENCING),
  retryInterval: zDuration({ min: 1, max: 60_000 }).default(D.DEFAULT_RETRY_INTERVAL_MS),
}

/** zod schema of LockManagerOptions. */
export const lockManagerSchema = z
  .object({
    namespace: namespace(D.DEFAULT_LOCK_PREFIX),
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\n]*$/, 'must not contain a line break')
      .optional(),
    heldTooLong: zDuration({ min: 1, max: D.MAX_TTL_MS }).optional(),
    ...common,
  })
  .strict()

const ttl = zDuration({ min: D.MIN_TTL_MS, max: D.MAX_TTL_MS })

/** zod schema of AcquireOptions. */
export const acquireSchema = z
  .object({
    ttl: ttl.default(D.DEFAULT_TTL_MS),
    waitTimeout: zDuration({ min: 0, max: D.MAX_WAIT_MS }).default(D.DEFAULT_WAIT_TIMEOUT_MS),
    autoExtend: z.boolean().default(false),
    signal: z.instanceof(AbortSignal).optional(),
    fair: z.boolean().default(false),
    reentrant: z.boolean().default(false),
    owner: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\n]*$/, 'must not contain a line break')
      .optional(),
    waitReplicas: z.number().int().min(0).max(100).default(0),
    replicaTimeout: zDuration({ min: 1, max: 60_000 }).default(D.DEFAULT_REPLICA_TIMEOUT_MS),
  })
  .strict()

/** Resolved acquisition options. */
export type ResolvedAcquire = z.output<typeof acquireSchema>

const inRange = (v: unknown, min: number, max: number) =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max

/** Per-key checks of the fast path: plain values that zod would accept unchanged. */
const FAST: Record<string, (v: unknown) => boolean> = {
  ttl: (v) => inRange(v, D.MIN_TTL_MS, D.MAX_TTL_MS),
  waitTimeout: (v) => inRange(v, 0, D.MAX_WAIT_MS),
  autoExtend: (v) => typeof v === 'boolean',
  fair: (v) => typeof v === 'boolean',
  reentrant: (v) => typeof v === 'boolean',
  signal: (v) => v === undefined || v instanceof AbortSignal,
  owner: (v) =>
    v === undefined || (typeof v === 'string' && v.length >= 1 && v.length <= 200 && !v.includes('\n')),
  waitReplicas: (v) => Number.isInteger(v) && inRange(v, 0, 100),
  replicaTimeout: (v) => inRange(v, 1, 60_000),
}

const DEFAULT_ACQUIRE: ResolvedAcquire = parseOptions(PKG, acquireSchema, {})

/**
 * The last fast-path options and their resolution: callers mostly pass the same literal on every call
 * (`{ ttl: '10s' }` → `{ ttl: 10_000 }`), and a frozen copy per acquisition was a visible share of a cycle.
 */
let memo: { keys: string[]; values: unknown[]; resolved: ResolvedAcquire } | undefined

/**
 * Validates acquisition options (frozen, defaulted). Options made of plain numbers and booleans skip zod
 * (a lock cycle is a few tens of µs; a zod parse with duration transforms costs about 10 µs); anything
 * else, including every invalid input, goes through the zod schema for its error. The same plain options
 * as the previous call give the previous (frozen) result.
 */
export function parseAcquire(input: AcquireOptions | undefined): ResolvedAcquire {
  if (input === undefined) return DEFAULT_ACQUIRE
  if (typeof input === 'object' && input !== null && Object.getPrototypeOf(input) === Object.prototype) {
    let fast = true
    let same = memo !== undefined
    let n = 0
    for (const key in input) {
      const value = input[key as keyof AcquireOptions]
      const check = FAST[key]
      if (!check?.(value)) {
        fast = false
        break
      }
      if (same && (memo!.keys[n] !== key || memo!.values[n] !== value)) same = false
      n++
    }
    if (fast) {
      if (same && n === memo!.keys.length) return memo!.resolved
      const resolved = Object.freeze({ ...DEFAULT_ACQUIRE, ...input }) as ResolvedAcquire
      // A signal is per call (and would be kept alive by the memo): only plain values are remembered.
      if (input.signal === undefined) {
        const keys = Object.keys(input)
        memo = { keys, values: keys.map((k) => input[k as keyof AcquireOptions]), resolved }
      }
      return resolved
    }
  }
  return parseOptions(PKG, acquireSchema, input ?? {})
}

/** Options of `new Semaphore(conn, name, options)`. */
export interface SemaphoreOptions extends CommonOptions {
  /** How many holders at once. */
  limit: number
  /** @default 'sem' */
  namespace?: string
}

/** zod schema of SemaphoreOptions. */
export const semaphoreSchema = z
  .object({
    limit: z.number().int().min(1).max(1_000_000),
    namespace: namespace(D.DEFAULT_SEMAPHORE_PREFIX),
    ...common,
  })
  .strict()

/** Options of `new ReadWriteLock(conn, name, options)`. */
export interface ReadWriteLockOptions extends CommonOptions {
  /** @default 'rw' */
  namespace?: string
}

/** zod schema of ReadWriteLockOptions. */
export const rwSchema = z.object({ namespace: namespace(D.DEFAULT_RWLOCK_PREFIX), ...common }).strict()

/** Options of `new Redlock(connections, options)`. */
export interface RedlockOptions extends CommonOptions {
  /** Nodes that must grant the lock. @default majority: floor(n / 2) + 1 */
  quorum?: number
  /** How long one node may take to answer one attempt. @default '100ms' */
  nodeTimeout?: Duration
  /** @default 'lock' */
  namespace?: string
}

/** zod schema of RedlockOptions (quorum is checked against the node count separately). */
export const redlockSchema = z
  .object({
    quorum: z.number().int().min(1).optional(),
    nodeTimeout: zDuration({ min: 1, max: 60_000 }).default(D.DEFAULT_NODE_TIMEOUT_MS),
    namespace: namespace(D.DEFAULT_LOCK_PREFIX),
    ...common,
  })
  .strict()

/** Options of `new LeaderElection(conn, name, options)`. */
export interface LeaderElectionOptions extends CommonOptions {
  /** Leadership lease; renewed every ttl/3 while leader. @default '10s' */
  ttl?: Duration
  /** This candidate's name, visible through `leader()`. @default host:pid:random */
  id?: string
  /** @default 'leader' */
  namespace?: string
}

/** zod schema of LeaderElectionOptions. */
export const leaderSchema = z
  .object({
    ttl: ttl.default(D.DEFAULT_TTL_MS),
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\n]*$/, 'must not contain a line break')
      .optional(),
    namespace: namespace(D.DEFAULT_LEADER_PREFIX),
    ...common,
  })
  .strict()

/** Validates a resource or lock name: a non-empty string of at most 1024 characters. */
export function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) {
    const got = typeof value === 'string' ? `a string of ${value.length} characters` : typeof value
    throw new InvalidArgumentError(PKG, field, `must be a string of 1 to 1024 characters, got ${got}`)
  }
  return value
}

export { PKG }
