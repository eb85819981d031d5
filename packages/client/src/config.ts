import { readFileSync } from 'node:fs'
import { z } from 'zod'
import * as D from './defaults.js'
import { zDuration } from './duration.js'
import { InvalidOptionError } from './errors.js'
import { KeyBuilder } from './keys.js'
import { PKG } from './pkg.js'
import { parseOptions } from './validate.js'

/** A server address: `'host:port'` or `{ host, port }`. */
export type NodeAddressInput = string | { host: string; port: number }

/** TLS settings. PEM strings, or paths to PEM files when read from the environment. */
export interface TlsOptions {
  ca?: string
  cert?: string
  key?: string
  /** @default true */
  rejectUnauthorized?: boolean
  servername?: string
}

/** Options of `connect()`. Every duration takes milliseconds or a string like `'5s'`. */
export interface ConnectOptions {
  /** `redis://[user:pass@]host:port[/db]`, or `rediss://` for TLS. */
  url?: string
  /** @default '127.0.0.1' */
  host?: string
  /** @default 6379 */
  port?: number
  /** Database index (standalone and Sentinel only). @default 0 */
  db?: number
  /** ACL user name. */
  username?: string
  /** Password; never printed in errors or logs. */
  password?: string
  /** `true` for TLS with system CAs, or TLS settings. @default false */
  tls?: boolean | TlsOptions
  /** Connect to a Redis Cluster through these seed nodes. */
  cluster?: { nodes: NodeAddressInput[] }
  /** Connect through Sentinel: the monitored master's name and some sentinels. */
  sentinel?: { name: string; sentinels: NodeAddressInput[]; username?: string; password?: string }
  /** Route `conn.replicas` reads to replicas (Sentinel and Cluster). @default false */
  replicaReads?: boolean
  /** Standalone only: replicas to read from through `conn.replicas`. */
  replicaUrls?: string[]
  /** Root namespace of `conn.keys`. @default 'cache' */
  namespace?: string
  /** CLIENT SETNAME for every connection. */
  clientName?: string
  /** RESP protocol version. @default 2 */
  resp?: 2 | 3
  /** @default '5s' */
  connectTimeout?: number | string
  /** Round-trip limit for one command; 0 disables it. @default '2s' */
  commandTimeout?: number | string
  /** Exponential backoff between reconnect attempts, with jitter. */
  reconnect?: {
    initialDelay?: number | string
    maxDelay?: number | string
    jitter?: number
    maxAttempts?: number
  }
  /**
   * Commands held while the connection is not ready (before the first connect completes, or while it
   * reconnects); beyond `maxLength` they are rejected at once with E_UNAVAILABLE, the held ones are sent in
   * order after the reconnect (or fail by their `commandTimeout`). A connected client never rejects for queue
   * length: backpressure is the caller's. `false` rejects every command sent while not ready. On Sentinel,
   * node-redis holds commands in its own rediscovery loop, bounded by `commandTimeout` only.
   * @default { maxLength: 1000 }
   */
  offlineQueue?: false | { maxLength?: number }
  /** Fail fast with E_UNAVAILABLE while the server is unreachable. @default { failureThreshold: 3, resetTimeout: '1s' } */
  breaker?: false | { failureThreshold?: number; resetTimeout?: number | string }
  /** How long `close()` waits for in-flight commands. @default '5s' */
  drainTimeout?: number | string
}

/** A resolved server address. */
export interface NodeAddress {
  host: string
  port: number
}

/** The frozen, fully defaulted configuration a Connection runs with. */
export interface ResolvedConfig {
  topology: 'standalone' | 'sentinel' | 'cluster'
  host: string
  port: number
  db: number
  username: string | undefined
  password: string | undefined
  tls: false | TlsOptions
  nodes: NodeAddress[]
  sentinel:
    | { name: string; sentinels: NodeAddress[]; username?: string | undefined; password?: string | undefined }
    | undefined
  replicaReads: boolean
  replicaNodes: NodeAddress[]
  namespace: string
  clientName: string | undefined
  resp: 2 | 3
  connectTimeoutMs: number
  commandTimeoutMs: number
  reconnect: { initialDelayMs: number; maxDelayMs: number; jitter: number; maxAttempts: number }
  offlineQueue: false | { maxLength: number }
  breaker: false | { failureThreshold: number; resetTimeoutMs: number }
  drainTimeoutMs: number
}

function parseAddress(input: NodeAddressInput, defaultPort: number): NodeAddress | string {
  if (typeof input !== 'string') return input
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(input.trim().replace(/^redis:\/\//, ''))
  if (!m?.[1]) return `must be "host:port", got ${JSON.stringify(input)}`
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort }
}

const port = z
  .number()
  .int()
  .min(1, 'must be a port between 1 and 65535')
  .max(65535, 'must be a port between 1 and 65535')

function address(defaultPort: number) {
  return z
    .union([z.string(), z.object({ host: z.string().min(1), port }).strict()])
    .transform((value, ctx) => {
      const parsed = parseAddress(value, defaultPort)
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed })
        return z.NEVER
      }
      if (!Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) {
        ctx.addIssue({ code: 'custom', message: `must have a port between 1 and 65535, got ${parsed.port}` })
        return z.NEVER
      }
      return parsed
    })
}

const tlsSchema = z
  .object({
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    rejectUnauthorized: z.boolean().optional(),
    servername: z.string().optional(),
  })
  .strict()

const schema = z
  .object({
    url: z.string().optional(),
    host: z.string().min(1).optional(),
    port: port.optional(),
    db: z.number().int().min(0, 'must be a database index >= 0').optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    tls: z.union([z.boolean(), tlsSchema]).optional(),
    cluster: z
      .object({ nodes: z.array(address(D.DEFAULT_PORT)).min(1, 'must list at least one node') })
      .strict()
      .optional(),
    sentinel: z
      .object({
        name: z.string().min(1, 'must name the monitored master'),
        sentinels: z.array(address(D.DEFAULT_SENTINEL_PORT)).min(1, 'must list at least one sentinel'),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .strict()
      .optional(),
    replicaReads: z.boolean().default(false),
    replicaUrls: z.array(z.string()).optional(),
    namespace: z.string().default(D.DEFAULT_NAMESPACE),
    clientName: z
      .string()
      .regex(/^[^\s]+$/, 'must not contain spaces')
      .optional(),
    resp: z.union([z.literal(2), z.literal(3)]).default(2),
    connectTimeout: zDuration({ min: 1, max: 600_000 }).default(D.DEFAULT_CONNECT_TIMEOUT_MS),
    commandTimeout: zDuration({ max: 600_000 }).default(D.DEFAULT_COMMAND_TIMEOUT_MS),
    reconnect: z
      .object({
        initialDelay: zDuration({ min: 1, max: 600_000 }).default(D.DEFAULT_RECONNECT_INITIAL_DELAY_MS),
        maxDelay: zDuration({ min: 1, max: 600_000 }).default(D.DEFAULT_RECONNECT_MAX_DELAY_MS),
        jitter: z.number().min(0).max(1).default(D.DEFAULT_RECONNECT_JITTER),
        maxAttempts: z.number().int().positive().default(Number.POSITIVE_INFINITY),
      })
      .strict()
      .default({
        initialDelay: D.DEFAULT_RECONNECT_INITIAL_DELAY_MS,
        maxDelay: D.DEFAULT_RECONNECT_MAX_DELAY_MS,
        jitter: D.DEFAULT_RECONNECT_JITTER,
        maxAttempts: Number.POSITIVE_INFINITY,
      }),
    offlineQueue: z
      .union([
        z.literal(false),
        z
          .object({ maxLength: z.number().int().positive().default(D.DEFAULT_OFFLINE_QUEUE_MAX_LENGTH) })
          .strict(),
      ])
      .default({ maxLength: D.DEFAULT_OFFLINE_QUEUE_MAX_LENGTH }),
    breaker: z
      .union([
        z.literal(false),
        z
          .object({
            failureThreshold: z.number().int().positive().default(D.DEFAULT_BREAKER_FAILURE_THRESHOLD),
            resetTimeout: zDuration({ min: 1, max: 600_000 }).default(D.DEFAULT_BREAKER_RESET_TIMEOUT_MS),
          })
          .strict(),
      ])
      .default({
        failureThreshold: D.DEFAULT_BREAKER_FAILURE_THRESHOLD,
        resetTimeout: D.DEFAULT_BREAKER_RESET_TIMEOUT_MS,
      }),
    drainTimeout: zDuration({ max: 600_000 }).default(D.DEFAULT_DRAIN_TIMEOUT_MS),
  })
  .strict()

/** Drops the password from a URL so it can appear in a message. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@')
}

function fromUrl(url: string, field: string): Partial<ConnectOptions> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // An unparseable URL is not echoed: it may hold a password in a place we cannot find to redact.
    throw new InvalidOptionError(
      PKG,
      field,
      'must be a redis:// or rediss:// URL (value not shown: it may hold a password)',
    )
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new InvalidOptionError(PKG, field, `must use redis:// or rediss://, got ${parsed.protocol}//`)
  }
  const out: Partial<ConnectOptions> = { host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1' }
  if (parsed.port) out.port = Number(parsed.port)
  if (parsed.username) out.username = decodeURIComponent(parsed.username)
  if (parsed.password) out.password = decodeURIComponent(parsed.password)
  const db = parsed.pathname.replace(/^\//, '')
  if (db) {
    if (!/^\d+$/.test(db))
      throw new InvalidOptionError(PKG, `${field}.db`, `must be a database index, got ${JSON.stringify(db)}`)
    out.db = Number(db)
  }
  if (parsed.protocol === 'rediss:') out.tls = true
  return out
}

function pem(value: string | undefined): string | undefined {
  if (!value) return undefined
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8')
}

/**
 * Reads the connection config from environment variables: REDIS_URL, REDIS_CLUSTER_NODES (comma-separated
 * host:port), REDIS_SENTINELS + REDIS_SENTINEL_NAME, REDIS_USERNAME, REDIS_PASSWORD, REDIS_DB,
 * REDIS_NAMESPACE, REDIS_TLS (1/true), REDIS_TLS_CA / REDIS_TLS_CERT / REDIS_TLS_KEY (PEM text or file
 * path), REDIS_TLS_SERVERNAME, REDIS_TLS_REJECT_UNAUTHORIZED (0 to disable checks).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConnectOptions {
  const out: ConnectOptions = {}
  if (env.REDIS_URL) Object.assign(out, fromUrl(env.REDIS_URL, 'REDIS_URL'))
  const list = (v: string) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  if (env.REDIS_CLUSTER_NODES) out.cluster = { nodes: list(env.REDIS_CLUSTER_NODES) }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_NAME)
      throw new InvalidOptionError(PKG, 'REDIS_SENTINEL_NAME', 'must be set when REDIS_SENTINELS is')
    out.sentinel = { name: env.REDIS_SENTINEL_NAME, sentinels: list(env.REDIS_SENTINELS) }
  }
  if (env.REDIS_USERNAME) out.username = env.REDIS_USERNAME
  if (env.REDIS_PASSWORD) out.password = env.REDIS_PASSWORD
  if (env.REDIS_DB) {
    if (!/^\d+$/.test(env.REDIS_DB))
      throw new InvalidOptionError(
        PKG,
        'REDIS_DB',
        `must be a database index, got ${JSON.stringify(env.REDIS_DB)}`,
      )
    out.db = Number(env.REDIS_DB)
  }
  if (env.REDIS_NAMESPACE) out.namespace = env.REDIS_NAMESPACE
  const tlsOn = env.REDIS_TLS && /^(1|true|yes)$/i.test(env.REDIS_TLS)
  const tls: TlsOptions = {}
  const ca = pem(env.REDIS_TLS_CA)
  const cert = pem(env.REDIS_TLS_CERT)
  const key = pem(env.REDIS_TLS_KEY)
  if (ca) tls.ca = ca
  if (cert) tls.cert = cert
  if (key) tls.key = key
  if (env.REDIS_TLS_SERVERNAME) tls.servername = env.REDIS_TLS_SERVERNAME
  if (env.REDIS_TLS_REJECT_UNAUTHORIZED)
    tls.rejectUnauthorized = !/^(0|false|no)$/i.test(env.REDIS_TLS_REJECT_UNAUTHORIZED)
  if (Object.keys(tls).length > 0) out.tls = tls
  else if (tlsOn || out.tls) out.tls = true
  return out
}

/**
 * Resolves `connect()`'s argument (an options object, a URL, or nothing for the environment) into a frozen,
 * fully defaulted config.
 * @throws InvalidOptionError naming the field and the reason; secrets are never echoed.
 */
export function resolveConfig(
  input?: ConnectOptions | string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig {
  let options: ConnectOptions
  if (input === undefined) options = configFromEnv(env)
  else if (typeof input === 'string') options = fromUrl(input, 'url')
  else if (typeof input === 'object' && input !== null) {
    options = input.url ? { ...fromUrl(input.url, 'url'), ...withoutUrl(input) } : input
  } else
    throw new InvalidOptionError(
      PKG,
      '(options)',
      `must be an options object, a redis:// URL or omitted, got ${typeof input}`,
    )

  const o = parseOptions(PKG, schema, options)
  if (o.cluster && o.sentinel)
    throw new InvalidOptionError(PKG, 'cluster', 'cannot be combined with "sentinel"')
  if (o.cluster && o.db)
    throw new InvalidOptionError(PKG, 'db', 'must be 0 on a cluster (Redis Cluster has one database)')
  if (o.replicaUrls && (o.cluster || o.sentinel)) {
    throw new InvalidOptionError(
      PKG,
      'replicaUrls',
      'is for standalone servers; Sentinel and Cluster find replicas themselves',
    )
  }
  if (o.reconnect.maxDelay < o.reconnect.initialDelay) {
    throw new InvalidOptionError(PKG, 'reconnect.maxDelay', 'must be at least reconnect.initialDelay')
  }
  const replicaNodes = (o.replicaUrls ?? []).map((u, i) => {
    const r = fromUrl(u, `replicaUrls.${i}`)
    return { host: r.host ?? '127.0.0.1', port: r.port ?? D.DEFAULT_PORT }
  })
  new KeyBuilder(o.namespace) // validates the namespace
  const topology = o.cluster ? 'cluster' : o.sentinel ? 'sentinel' : 'standalone'
  return Object.freeze({
    topology,
    host: o.host ?? '127.0.0.1',
    port: o.port ?? D.DEFAULT_PORT,
    db: o.db ?? 0,
    username: o.username,
    password: o.password,
    tls: o.tls === true ? {} : (o.tls ?? false),
    nodes: o.cluster?.nodes ?? [],
    sentinel: o.sentinel,
    replicaReads: o.replicaReads || replicaNodes.length > 0,
    replicaNodes,
    namespace: o.namespace,
    clientName: o.clientName,
    resp: o.resp,
    connectTimeoutMs: o.connectTimeout,
    commandTimeoutMs: o.commandTimeout,
    reconnect: {
      initialDelayMs: o.reconnect.initialDelay,
      maxDelayMs: o.reconnect.maxDelay,
      jitter: o.reconnect.jitter,
      maxAttempts: o.reconnect.maxAttempts,
    },
    offlineQueue: o.offlineQueue,
    breaker:
      o.breaker === false
        ? false
        : { failureThreshold: o.breaker.failureThreshold, resetTimeoutMs: o.breaker.resetTimeout },
    drainTimeoutMs: o.drainTimeout,
  } satisfies ResolvedConfig)
}

function withoutUrl(input: ConnectOptions): ConnectOptions {
  const { url: _url, ...rest } = input
  return rest
}
