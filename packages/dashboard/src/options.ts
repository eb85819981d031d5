import { type Connection, type Duration, parseOptions, zDuration } from '@cache/client'
import type { Metrics } from '@cache/metrics'
import { z } from 'zod'
import { DEFAULT_ACTOR, DEFAULT_LIVE_INTERVAL_MS, DEFAULT_NAMESPACES } from './defaults.js'

/** The part of `@cache/security`'s AuditLog the dashboard writes to. */
export interface DashboardAuditLog {
  record(entry: {
    actor: string
    action: string
    subject?: string
    outcome?: 'ok' | 'denied' | 'error'
    details?: Record<string, unknown>
  }): Promise<unknown>
}

/** The part of a `@cache/core` Cache the "invalidate a tag" action calls. */
export interface DashboardCache {
  invalidateTags(tags: readonly string[]): Promise<number>
}

/** The part of `@cache/metrics`' Alerts (`metrics.alerts(rules)`) the overview reads. */
export interface DashboardAlerts {
  states(): Promise<
    Record<string, { state: 'inactive' | 'pending' | 'firing'; since: number; value: number | null }>
  >
}

/** The part of `@cache/session`'s SessionManager the "revoke a user's sessions" action calls. */
export interface DashboardSessions {
  revokeUser(tenant: string, userId: string): Promise<number>
}

/** Options of `dashboard()`. */
export interface DashboardOptions {
  /** The connection every page reads through (the application's own). */
  conn: Connection
  /** The application's Metrics (its namespace is the one read). */
  metrics: Metrics
  /**
   * `token`: when set, every request needs it (Authorization: Bearer, or the login form's HttpOnly cookie).
   * When unset, reading is open: bind the server to a private address.
   */
  auth: { token?: string | undefined }
  /** Hide and refuse the mutating actions (DLQ replay, tag invalidation, session revocation). @default false */
  readOnly?: boolean
  /** Where the actions are recorded (`new AuditLog(conn, { keyring })` from @cache/security). */
  audit?: DashboardAuditLog
  /** The actor written to the audit log. @default 'dashboard' */
  actor?: string
  /**
   * The path the handler is served under on a plain node:http server (`'/dashboard'`). Under Express,
   * `app.use('/dashboard', handler)` is enough (req.baseUrl). @default ''
   */
  basePath?: string
  /** The caches the "invalidate a tag" action may target, by the name shown. @default {} */
  caches?: Record<string, DashboardCache>
  /** The session manager the "revoke a user's sessions" action uses. */
  sessions?: DashboardSessions
  /** The alert rules whose state the overview shows (`metrics.alerts(rules)`). */
  alerts?: DashboardAlerts
  /** Names of `LeaderElection`s whose leader and term the locks page shows. @default [] */
  elections?: string[]
  /** Namespaces of the packages' state (the same defaults as the cli and the packages). */
  namespaces?: { locks?: string; limits?: string; queues?: string; sessions?: string; leaders?: string }
  /** How often the live stream pushes fresh figures. @default 5000 */
  liveInterval?: Duration
}

/** The options after validation and defaults. */
export interface ResolvedDashboardOptions {
  readonly conn: Connection
  readonly metrics: Metrics
  readonly token: string | undefined
  readonly readOnly: boolean
  readonly audit: DashboardAuditLog | undefined
  readonly actor: string
  readonly basePath: string | undefined
  readonly caches: Readonly<Record<string, DashboardCache>>
  readonly sessions: DashboardSessions | undefined
  readonly alerts: DashboardAlerts | undefined
  readonly elections: readonly string[]
  readonly namespaces: Readonly<{
    locks: string
    limits: string
    queues: string
    sessions: string
    leaders: string
  }>
  readonly liveIntervalMs: number
}

const PKG = '@cache/dashboard'

const hasMethods = (...names: string[]) =>
  z.custom<object>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function'),
    { message: `must be an object with ${names.join(', ')}()` },
  )

const ns = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -')
    .default(fallback)

const schema = z.strictObject({
  conn: hasMethods('send', 'masters'),
  metrics: hasMethods('query', 'snapshot', 'server'),
  auth: z.strictObject({
    token: z.string().min(8, 'must be at least 8 characters').optional(),
  }),
  readOnly: z.boolean().default(false),
  audit: hasMethods('record').optional(),
  actor: z.string().min(1).max(128).default(DEFAULT_ACTOR),
  basePath: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must be empty or like /dashboard (no trailing slash)')
    .optional(),
  caches: z.record(z.string().min(1).max(64), hasMethods('invalidateTags')).default({}),
  sessions: hasMethods('revokeUser').optional(),
  alerts: hasMethods('states').optional(),
  elections: z.array(z.string().min(1).max(256)).max(100).default([]),
  namespaces: z
    .strictObject({
      locks: ns(DEFAULT_NAMESPACES.locks),
      limits: ns(DEFAULT_NAMESPACES.limits),
      queues: ns(DEFAULT_NAMESPACES.queues),
      sessions: ns(DEFAULT_NAMESPACES.sessions),
      leaders: ns(DEFAULT_NAMESPACES.leaders),
    })
    .default(DEFAULT_NAMESPACES),
  liveInterval: zDuration({ min: 250 }).default(DEFAULT_LIVE_INTERVAL_MS),
})

/** Validates the options once (E_INVALID_OPTION naming the field) into a frozen, defaulted object. */
export function resolveOptions(options: DashboardOptions): ResolvedDashboardOptions {
  const o = parseOptions(PKG, schema, options)
  return Object.freeze({
    conn: o.conn as Connection,
    metrics: o.metrics as Metrics,
    token: o.auth.token,
    readOnly: o.readOnly,
    audit: o.audit as DashboardAuditLog | undefined,
    actor: o.actor,
    basePath: o.basePath,
    caches: Object.freeze({ ...(o.caches as Record<string, DashboardCache>) }),
    sessions: o.sessions as DashboardSessions | undefined,
    alerts: o.alerts as DashboardAlerts | undefined,
    elections: Object.freeze([...o.elections]),
    namespaces: Object.freeze({ ...o.namespaces }),
    liveIntervalMs: o.liveInterval,
  })
}
