import { type ConnectOptions, configFromEnv } from '@cache/client'
import { UsageError } from './errors.js'

/** The connection flags every command takes (parseArgs option config). */
export const CONNECTION_FLAGS = {
  url: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  db: { type: 'string' },
  username: { type: 'string' },
  tls: { type: 'boolean' },
  cluster: { type: 'string' },
  sentinels: { type: 'string' },
  'sentinel-name': { type: 'string' },
  namespace: { type: 'string' },
  timeout: { type: 'string' },
} as const

/** Values of the connection flags as parseArgs returns them. */
export interface ConnectionFlags {
  url?: string | undefined
  host?: string | undefined
  port?: string | undefined
  db?: string | undefined
  username?: string | undefined
  tls?: boolean | undefined
  cluster?: string | undefined
  sentinels?: string | undefined
  'sentinel-name'?: string | undefined
  namespace?: string | undefined
  timeout?: string | undefined
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

function integer(flag: string, value: string): number {
  if (!/^\d+$/.test(value))
    throw new UsageError(`--${flag}`, `must be a whole number, got ${JSON.stringify(value)}`)
  return Number(value)
}

/**
 * The options for `connect()`: the same environment variables as `connect()` (REDIS_URL, REDIS_CLUSTER_NODES,
 * REDIS_SENTINELS, REDIS_PASSWORD, REDIS_NAMESPACE, REDIS_TLS*…), then the flags over them. An address flag
 * (--url, --host/--port, --cluster, --sentinels) replaces the environment's address. There is no --password
 * flag on purpose: a password on a command line lands in shell history and `ps`; use REDIS_PASSWORD or the URL.
 */
export function connectionOptions(flags: ConnectionFlags, env: NodeJS.ProcessEnv): ConnectOptions {
  const addressGiven = !!(flags.url || flags.host || flags.port || flags.cluster || flags.sentinels)
  const base = configFromEnv(
    addressGiven
      ? { ...env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined, REDIS_SENTINELS: undefined }
      : env,
  )
  const out: ConnectOptions = { ...base, clientName: 'cache-cli' }
  if (addressGiven) {
    delete out.host
    delete out.port
    delete out.cluster
    delete out.sentinel
  }
  if (flags.url) out.url = flags.url
  if (flags.host) out.host = flags.host
  if (flags.port) out.port = integer('port', flags.port)
  if (flags.db) out.db = integer('db', flags.db)
  if (flags.username) out.username = flags.username
  if (flags.tls) out.tls = out.tls || true
  if (flags.cluster) out.cluster = { nodes: list(flags.cluster) }
  if (flags.sentinels) {
    const name = flags['sentinel-name'] ?? env.REDIS_SENTINEL_NAME
    if (!name) throw new UsageError('--sentinel-name', 'must be given with --sentinels')
    out.sentinel = { name, sentinels: list(flags.sentinels) }
  }
  if (flags.namespace) out.namespace = flags.namespace
  if (flags.timeout) out.commandTimeout = flags.timeout
  // One failed attempt is an answer for a CLI: report it instead of retrying for minutes.
  out.connectTimeout = out.connectTimeout ?? 5000
  out.reconnect = { maxAttempts: 3, initialDelay: 50, maxDelay: 500 }
  return out
}
