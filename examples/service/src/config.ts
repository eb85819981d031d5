/**
 * The service's configuration: ServiceOptions (programmatic) and the environment + command-line flags of
 * `npm start`, validated with zod into typed errors (`E_INVALID_OPTION`, the field named) before anything starts.
 */
import { type ConnectOptions, InvalidOptionError } from '@cache/client'
import { z } from 'zod'
import type { JobDurability } from './jobs.js'

export const PKG = '@cache/example-service'

/** Limits of the API (per minute unless said otherwise). */
export interface LimitOptions {
  /** Requests per user per minute on /api/*. @default 600 */
  userRequests?: number
  /** Requests per tenant per minute on /api/*. @default 3000 */
  tenantRequests?: number
  /** LLM completions per user per minute. @default 60 */
  llmRequests?: number
  /** LLM tokens per tenant per minute (weighted by maxTokens). @default 20000 */
  llmTokens?: number
}

/** Options of `startService()`. */
export interface ServiceOptions {
  /** Exactly what @cache/client `connect()` takes (url / sentinel / cluster, timeouts). */
  redis: ConnectOptions
  /** Real Postgres via `pg` when set; else PGlite (in memory, or `dataDir`). */
  databaseUrl?: string
  /** PGlite data directory. @default in memory */
  dataDir?: string
  /** 0 = a free port. @default 3000 */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  /** Run the queue workers in this process. @default true */
  workers?: boolean
  /** Token of /dashboard. @default random */
  dashboardToken?: string
  /** Where log lines go. @default nowhere */
  log?: (line: string) => void
  /** Return the one-time code in POST /api/auth/code. @default NODE_ENV !== 'production' */
  devCodes?: boolean
  /** Share of calls to the fake payments provider that fail, 0-1. @default 0.2 */
  paymentsFailureRate?: number
  /** Secret signing the session cookie. @default random (sessions do not survive a restart of the process) */
  sessionSecret?: string
  /** Rate limits. */
  limits?: LimitOptions
  /** Minimum time between two codes for one user. @default '5s' */
  otpResendInterval?: number | string
  /** Schedule of the nightly digest job (cron). @default '0 3 * * *' */
  digestCron?: string
  /**
   * Replicas that must have a job before POST /api/jobs/* answers 202 (the queue's `durability`: a WAIT
   * after the add; fewer in `timeout` → 503 E_NOT_REPLICATED). `false` acknowledges on the master alone.
   * @default { replicas: 1, timeout: '1s' } on Sentinel and Cluster, off on standalone
   */
  jobDurability?: JobDurability | false
}

const duration = z.union([z.number().int().min(0), z.string().regex(/^\d+(ms|s|m|h|d)$/)])

const limitsSchema = z
  .object({
    userRequests: z.number().int().min(1).max(1e6).default(600),
    tenantRequests: z.number().int().min(1).max(1e7).default(3000),
    llmRequests: z.number().int().min(1).max(1e6).default(60),
    llmTokens: z.number().int().min(1).max(1e9).default(20_000),
  })
  .strict()

const optionsSchema = z
  .object({
    redis: z.custom<ConnectOptions>((v) => typeof v === 'object' && v !== null, 'must be connect() options'),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    dataDir: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65_535).default(3000),
    host: z.string().min(1).default('127.0.0.1'),
    workers: z.boolean().default(true),
    dashboardToken: z.string().min(16, 'must be at least 16 characters').optional(),
    log: z.custom<(line: string) => void>((v) => typeof v === 'function', 'must be a function').optional(),
    devCodes: z.boolean().default(process.env.NODE_ENV !== 'production'),
    paymentsFailureRate: z.number().min(0).max(1).default(0.2),
    sessionSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    limits: limitsSchema.default(limitsSchema.parse({})),
    otpResendInterval: duration.default('5s'),
    digestCron: z.string().min(9).default('0 3 * * *'),
    jobDurability: z
      .union([
        z.literal(false),
        z.object({ replicas: z.number().int().min(1).max(16), timeout: duration }).strict(),
      ])
      .optional(),
  })
  .strict()

/** ServiceOptions with every default applied. */
export type ResolvedServiceOptions = Readonly<z.output<typeof optionsSchema>>

function fail(error: z.ZodError, where: string): never {
  const issue = error.issues[0]
  const field = issue?.path.join('.') || where
  throw new InvalidOptionError(PKG, field, issue?.message ?? 'is invalid')
}

/** Validates and defaults ServiceOptions; throws InvalidOptionError (`E_INVALID_OPTION`) naming the field. */
export function resolveOptions(options: ServiceOptions): ResolvedServiceOptions {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) fail(parsed.error, 'options')
  return Object.freeze(parsed.data)
}

/** What `npm start` reads from its flags and the environment. */
export interface StartConfig {
  redisUrl: string | undefined
  cluster: boolean
  load: boolean
  users: number
  port: number
  host: string
  databaseUrl: string | undefined
  dataDir: string | undefined
  dashboardToken: string | undefined
  paymentsFailureRate: number
}

const envNumber = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a number')
  .transform(Number)

const startSchema = z
  .object({
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    cluster: z.boolean().default(false),
    load: z.boolean().default(true),
    users: z.number().int().min(1).max(200).default(6),
    port: z.number().int().min(0).max(65_535).default(3000),
    host: z.string().min(1).default('127.0.0.1'),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    dataDir: z.string().min(1).optional(),
    dashboardToken: z.string().min(16, 'must be at least 16 characters').optional(),
    paymentsFailureRate: z.number().min(0).max(1).default(0.2),
  })
  .strict()
  .refine((c) => !(c.cluster && c.redisUrl), {
    message: '--cluster and REDIS_URL exclude each other',
    path: ['cluster'],
  })

const FLAGS: Record<
  string,
  { key: keyof StartConfig; kind: 'bool' | 'number' | 'string'; negate?: boolean }
> = {
  '--cluster': { key: 'cluster', kind: 'bool' },
  '--no-load': { key: 'load', kind: 'bool', negate: true },
  '--load': { key: 'load', kind: 'bool' },
  '--users': { key: 'users', kind: 'number' },
  '--port': { key: 'port', kind: 'number' },
  '--host': { key: 'host', kind: 'string' },
  '--database-url': { key: 'databaseUrl', kind: 'string' },
  '--data-dir': { key: 'dataDir', kind: 'string' },
  '--payments-failure-rate': { key: 'paymentsFailureRate', kind: 'number' },
}

/** Parses `npm start` flags (`--cluster`, `--no-load`, `--port=3001`…) over the environment. Throws E_INVALID_OPTION. */
export function parseStartConfig(argv: readonly string[], env: NodeJS.ProcessEnv): StartConfig {
  const raw: Record<string, unknown> = {}
  const fromEnv: Array<[keyof StartConfig, string | undefined, 'number' | 'string']> = [
    ['redisUrl', env.REDIS_URL, 'string'],
    ['port', env.PORT, 'number'],
    ['host', env.HOST, 'string'],
    ['databaseUrl', env.DATABASE_URL, 'string'],
    ['dataDir', env.PGLITE_DATA_DIR, 'string'],
    ['dashboardToken', env.DASHBOARD_TOKEN, 'string'],
    ['paymentsFailureRate', env.PAYMENTS_FAILURE_RATE, 'number'],
    ['users', env.LOAD_USERS, 'number'],
  ]
  for (const [key, value, kind] of fromEnv) {
    if (value === undefined || value === '') continue
    const parsed = kind === 'number' ? envNumber.safeParse(value) : z.string().safeParse(value)
    if (!parsed.success) fail(parsed.error, key)
    raw[key] = parsed.data
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg]
    const flag = FLAGS[name as string]
    if (!flag)
      throw new InvalidOptionError(
        PKG,
        String(name),
        `unknown flag (known: ${Object.keys(FLAGS).join(', ')})`,
      )
    if (flag.kind === 'bool') {
      raw[flag.key] = !flag.negate
      continue
    }
    const value = inline ?? argv[++i]
    if (value === undefined) throw new InvalidOptionError(PKG, String(name), 'needs a value')
    if (flag.kind === 'number') {
      const parsed = envNumber.safeParse(value)
      if (!parsed.success) fail(parsed.error, flag.key)
      raw[flag.key] = parsed.data
    } else raw[flag.key] = value
  }
  const parsed = startSchema.safeParse(raw)
  if (!parsed.success) fail(parsed.error, 'config')
  return parsed.data as StartConfig
}
