import type { EventEmitter } from 'node:events'
import {
  type Arg,
  type Connection,
  type ConnectOptions,
  connect,
  type RedisCluster,
  type RedisStandalone,
  type ResolvedConfig,
} from '@cache/client'

/**
 * A dedicated connection for blocking reads (XREADGROUP BLOCK): a blocked command would stall every other
 * command on a shared socket. Standalone and Cluster duplicate the Connection's client; Sentinel opens a
 * second Connection with the same settings.
 */
export interface Reader {
  /** Sends a command on the dedicated connection, through the Connection's guarded path. */
  send<T>(args: Arg[], timeoutMs: number, name?: string): Promise<T>
  /** Fetches CLIENT ID of the connection serving `key` when unknown (after a reconnect). Call before blocking. */
  ensureClientId(): Promise<void>
  /** The last known CLIENT ID (for CLIENT UNBLOCK from another connection). */
  readonly clientId: string | undefined
  /** Closes the dedicated connection; `force` drops it without waiting for replies. */
  close(force?: boolean): Promise<void>
}

/** Connect options equivalent to a resolved config (used for Sentinel, whose client has no duplicate()). */
export function optionsFromConfig(c: ResolvedConfig): ConnectOptions {
  const options: ConnectOptions = {
    namespace: c.namespace,
    resp: c.resp,
    db: c.db,
    tls: c.tls,
    connectTimeout: c.connectTimeoutMs,
    commandTimeout: c.commandTimeoutMs,
    reconnect: {
      initialDelay: c.reconnect.initialDelayMs,
      maxDelay: c.reconnect.maxDelayMs,
      jitter: c.reconnect.jitter,
      // Unlimited attempts resolve to Infinity, which is the default and not a valid input.
      ...(Number.isFinite(c.reconnect.maxAttempts) ? { maxAttempts: c.reconnect.maxAttempts } : {}),
    },
    breaker: false,
  }
  if (c.username) options.username = c.username
  if (c.password) options.password = c.password
  if (c.sentinel) {
    const s: NonNullable<ConnectOptions['sentinel']> = {
      name: c.sentinel.name,
      sentinels: c.sentinel.sentinels,
    }
    if (c.sentinel.username) s.username = c.sentinel.username
    if (c.sentinel.password) s.password = c.sentinel.password
    options.sentinel = s
  }
  return options
}

/** Opens a Reader for commands on `key`. */
export async function openReader(
  conn: Connection,
  key: string,
  onError: (err: unknown) => void,
): Promise<Reader> {
  if (conn.topology === 'sentinel') {
    const own = await connect(optionsFromConfig(conn.config))
    own.on('error', onError)
    let id: string | undefined
    own.on('ready', () => {
      id = undefined
    })
    return {
      send: (args, timeoutMs, name) =>
        conn.exec(name ?? String(args[0]), () => own.send(args, { timeoutMs: 0 }), timeoutMs),
      ensureClientId: async () => {
        id ??= String(await own.send(['CLIENT', 'ID']))
      },
      get clientId() {
        return id
      },
      close: () => own.close(),
    }
  }
  const isCluster = conn.topology === 'cluster'
  // On a Cluster, connect only to the node that serves the stream, not to every master.
  const client = isCluster
    ? (conn.unguarded as RedisCluster).duplicate({ minimizeConnections: true })
    : (conn.unguarded as RedisStandalone).duplicate()
  const emitter = client as unknown as EventEmitter
  emitter.on('error', onError)
  let id: string | undefined
  const stale = () => {
    id = undefined
  }
  emitter.on('ready', stale)
  emitter.on('node-ready', stale)
  try {
    await conn.exec(
      'reader connect',
      () => client.connect() as Promise<unknown>,
      conn.config.connectTimeoutMs,
    )
  } catch (err) {
    try {
      client.destroy()
    } catch {}
    throw err
  }
  const raw = <T>(args: Arg[]): Promise<T> =>
    isCluster
      ? (client as RedisCluster).sendCommand<T>(key, false, args)
      : (client as RedisStandalone).sendCommand<T>(args)
  return {
    send: (args, timeoutMs, name) => conn.exec(name ?? String(args[0]), () => raw(args), timeoutMs),
    ensureClientId: async () => {
      id ??= String(await raw(['CLIENT', 'ID']))
    },
    get clientId() {
      return id
    },
    close: async (force = false) => {
      try {
        if (force) client.destroy()
        else await client.close()
      } catch {
        try {
          client.destroy()
        } catch {}
      }
    },
  }
}
