import { type ConnectOptions, type ResolvedConfig, resolveConfig } from './config.js'
import { Connection, connectFailure, createRedis, fatalConnectError, toCacheError } from './connection.js'
import { withDeadline } from './deadline.js'
import { CacheError } from './errors.js'
import { TAG } from './pkg.js'
import { type AnyRedis, type RedisCluster, type RedisStandalone, topologyOf } from './types.js'

/**
 * Opens a Connection. Accepts an options object, a `redis://` URL, an existing node-redis client / cluster /
 * sentinel, or nothing (configuration from REDIS_* environment variables).
 * @throws CacheError E_INVALID_OPTION for bad config (naming the field), E_UNAVAILABLE when the server
 * cannot be reached within `connectTimeout`.
 * @example
 * const conn = await connect('redis://127.0.0.1:6379')
 * await conn.redis.set(conn.keys.key('greeting'), 'hello')
 * await conn.close()
 */
export async function connect(
  config?: ConnectOptions | string | AnyRedis,
  overrides: ConnectOptions = {},
): Promise<Connection> {
  const existing = topologyOf(config)
  if (existing) return wrapExisting(config as AnyRedis, existing, overrides)
  const resolved = resolveConfig(config as ConnectOptions | string | undefined)
  let conn: Connection | undefined
  let connected = false
  const parts = createRedis(
    resolved,
    (attempt, delayMs) => conn?.onReconnecting(attempt, delayMs),
    () => !connected,
  )
  const owned = parts.redis === parts.replicas ? [parts.redis] : [parts.redis, parts.replicas]
  conn = new Connection(resolved, { ...parts, owned })
  // Remember why attempts fail, so that a timeout can say more than "no answer".
  let lastError: unknown
  const remember = (err: unknown) => {
    lastError = err
  }
  conn.on('error', remember)
  try {
    await withDeadline(
      Promise.all(owned.map((r) => (r as unknown as { connect(): Promise<unknown> }).connect())),
      resolved.connectTimeoutMs,
      `connect to ${describe(resolved)}`,
    )
    connected = true
  } catch (err) {
    await conn.close()
    const fatal =
      fatalConnectError(err) ??
      fatalConnectError((err as { cause?: unknown }).cause) ??
      fatalConnectError(unwrap(lastError))
    if (fatal) throw fatal
    const last = lastError
      ? ` (last error: ${unwrap(lastError) instanceof Error ? (unwrap(lastError) as Error).message : String(lastError)})`
      : ''
    const cause = toCacheError(err, 'connect')
    throw new CacheError(
      'E_UNAVAILABLE',
      `${TAG} cannot connect to ${describe(resolved)}: ${cause.message.replace(/^\[@cache\/client\] /, '')}${last}`,
      {
        cause,
      },
    )
  }
  conn.off('error', remember)
  return conn
}

type NodeOptions = { url?: string; socket?: { host?: string; port?: number } }

function hostPort(o: NodeOptions | undefined): { host: string; port: number } | undefined {
  if (o?.socket?.port) return { host: o.socket.host ?? '127.0.0.1', port: o.socket.port }
  if (o?.url) {
    const u = new URL(o.url)
    return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) }
  }
  return undefined
}

/**
 * Where a node-redis object the caller passed in connects to, so that bullmq(), health() and cluster
 * rediscovery use its real addresses.
 */
function addressOf(redis: AnyRedis, topology: ResolvedConfig['topology']): ConnectOptions {
  // node-redis exposes a client's options as `options` and a cluster's as the public readonly `_options`.
  const holder = redis as unknown as { options?: Record<string, unknown>; _options?: Record<string, unknown> }
  const options = holder.options ?? holder._options ?? {}
  if (topology === 'cluster') {
    const nodes = ((options.rootNodes as NodeOptions[] | undefined) ?? [])
      .map(hostPort)
      .filter((n) => n !== undefined)
    return { cluster: { nodes: nodes.length > 0 ? nodes : ['127.0.0.1:6379'] } }
  }
  if (topology === 'sentinel') {
    const sentinels = (options.sentinelRootNodes as Array<{ host: string; port: number }> | undefined) ?? []
    return {
      sentinel: {
        name: String(options.name ?? 'mymaster'),
        sentinels: sentinels.length > 0 ? sentinels : ['127.0.0.1:26379'],
      },
    }
  }
  const at = hostPort(options as NodeOptions)
  return at ? { host: at.host, port: at.port } : {}
}

/** The node-redis error inside a CacheError forwarded by the connection. */
function unwrap(err: unknown): unknown {
  return err instanceof CacheError && err.cause !== undefined ? err.cause : err
}

function describe(c: ResolvedConfig): string {
  if (c.topology === 'cluster') return `cluster ${c.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
  if (c.topology === 'sentinel') return `sentinel master "${c.sentinel?.name}"`
  return `${c.host}:${c.port}`
}

async function wrapExisting(
  redis: AnyRedis,
  topology: ResolvedConfig['topology'],
  overrides: ConnectOptions,
): Promise<Connection> {
  const base = resolveConfig({ ...addressOf(redis, topology), ...overrides })
  const config = Object.freeze({ ...base, topology })
  const createSubscriber = (): AnyRedis => {
    if (topology === 'cluster') return (redis as RedisCluster).duplicate() as unknown as AnyRedis
    if (topology === 'standalone') return (redis as RedisStandalone).duplicate() as unknown as AnyRedis
    throw new CacheError(
      'E_UNSUPPORTED',
      `${TAG} subscriber(): pass Sentinel options to connect() instead of a sentinel object to get a dedicated pub/sub connection`,
    )
  }
  const conn = new Connection(config, { redis, replicas: redis, owned: [], createSubscriber })
  const r = redis as unknown as { isOpen?: boolean; connect(): Promise<unknown> }
  if (r.isOpen === false) {
    try {
      await withDeadline(r.connect(), config.connectTimeoutMs, 'connect')
    } catch (err) {
      throw connectFailure(err, 'connect')
    }
  }
  return conn
}
