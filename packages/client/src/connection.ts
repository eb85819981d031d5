import diagnostics from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import { RESP_TYPES } from '@redis/client'
import { type BreakerState, CircuitBreaker } from './breaker.js'
import { type IoRedisOptions, ioRedisOptions } from './bullmq.js'
import { CommandPath } from './command-path.js'
import type { ResolvedConfig } from './config.js'
import { withDeadline } from './deadline.js'
import { connectFailure, toCacheError } from './error-mapping.js'
import { CacheError } from './errors.js'
import { guardedProxy } from './guarded-proxy.js'
import { type HealthReport, healthOf } from './health.js'
import { KeyBuilder } from './keys.js'
import { type MasterNode, mastersOf, scanMasters } from './masters.js'
import { TAG } from './pkg.js'
import { type ScriptFn, type ScriptOptions, ScriptRegistry } from './scripts-registry.js'
import { Subscriber } from './subscriber.js'
import type { AnyRedis, Arg, RedisCluster, RedisSentinel, RedisStandalone, Topology } from './types.js'
/** diagnostics_channel `cache:client:breaker`: `{ topology, state }` on every breaker transition. */
export const breakerChannel = diagnostics.channel('cache:client:breaker')

/** Options of `conn.send()`. */
export interface SendOptions {
  /** Routes the command in a cluster (the first key). */
  key?: Arg
  /** May run on a replica. */
  readonly?: boolean
  /** Bulk strings come back as Buffers. */
  buffers?: boolean
  /** Round-trip limit for this command (ms); defaults to `commandTimeout`. 0 disables it. */
  timeoutMs?: number
  /** Name for instrumentation; defaults to the first argument. */
  name?: string
}

const BUFFER_OPTIONS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const

/**
 * One logical connection to Redis (standalone, Sentinel or Cluster): the node-redis client, replica reads,
 * a dedicated subscriber, a script registry, a key builder, health, and a guarded command path with a
 * round-trip timeout and a circuit breaker. Create it with `connect()`.
 *
 * Events: `ready`, `error` (CacheError), `reconnecting` ({ attempt, delayMs }), `end`, `breaker` (state).
 */
export class Connection extends EventEmitter {
  /** The server layout. */
  readonly topology: Topology
  /**
   * The raw node-redis client, cluster or sentinel: UNGUARDED (no breaker, no round-trip timeout, untyped
   * errors; a command hangs while the server is down). Only for what the guarded path cannot carry:
   * blocking commands (XREADGROUP BLOCK, BLPOP), `duplicate()` for dedicated connections, topology
   * introspection (`masters`, `getMasterNode()`), CLIENT TRACKING. Everything else uses `redis`/`send`.
   */
  readonly unguarded: AnyRedis
  /** Read-only access, unguarded: replicas where configured (`replicaReads`), else the primary. */
  readonly replicas: AnyRedis
  /** Keys under the configured namespace. */
  readonly keys: KeyBuilder
  /** The resolved configuration (frozen). */
  readonly config: ResolvedConfig
  /**
   * The node-redis command API (typed with the commands all topologies share) on the guarded path: every
   * call has the breaker, the round-trip timeout, typed errors and instrumentation. The obvious name is the
   * safe one; the raw client is `unguarded`.
   * @example await conn.redis.set('k', 'v')
   */
  readonly redis: RedisStandalone
  /**
   * The same object as `redis` (its former name).
   * @deprecated use `conn.redis`; kept for one release because packages being written right now use it.
   */
  readonly commands: RedisStandalone
  readonly #owned: AnyRedis[]
  readonly #breaker: CircuitBreaker | undefined
  readonly #createSubscriber: () => AnyRedis
  readonly #path: CommandPath
  readonly #scripts: ScriptRegistry
  readonly #send: (args: Arg[], options: SendOptions | undefined) => Promise<unknown>
  #lastRediscover = 0
  #closing: Promise<void> | undefined
  #subscriber: Promise<Subscriber> | undefined

  /** @internal use `connect()`. */
  constructor(
    config: ResolvedConfig,
    parts: { redis: AnyRedis; replicas: AnyRedis; owned: AnyRedis[]; createSubscriber: () => AnyRedis },
  ) {
    super()
    this.config = config
    this.topology = config.topology
    this.unguarded = parts.redis
    this.replicas = parts.replicas
    this.#owned = parts.owned
    this.#createSubscriber = parts.createSubscriber
    this.keys = new KeyBuilder(config.namespace)
    this.#breaker =
      config.breaker === false
        ? undefined
        : new CircuitBreaker(config.breaker, (state) => {
            if (breakerChannel.hasSubscribers) breakerChannel.publish({ topology: this.topology, state })
            this.emit('breaker', state)
          })
    this.#path = new CommandPath({
      topology: this.topology,
      commandTimeoutMs: config.commandTimeoutMs,
      breaker: this.#breaker,
      closed: () => this.#closing !== undefined,
      onClusterUnavailable: () => this.#rediscoverCluster(),
      offlineQueueMax: config.offlineQueue === false ? 0 : config.offlineQueue.maxLength,
      offline: notReady(parts.redis, this.topology),
    })
    this.#send = rawSender(parts.redis, this.topology)
    this.#scripts = new ScriptRegistry((args, o) => this.send(args, o))
    this.redis = guardedProxy(parts.redis, this.#path, this.topology === 'standalone') as RedisStandalone
    this.commands = this.redis
    this.#watch(parts.redis)
  }

  /** The circuit breaker's state ('closed' when disabled). */
  get breakerState(): BreakerState {
    return this.#breaker?.state ?? 'closed'
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined
  }

  #watch(redis: AnyRedis): void {
    const emitter = redis as unknown as EventEmitter
    const forward = (err: unknown) => {
      const wrapped = toCacheError(err, 'connection')
      if (this.listenerCount('error') > 0) this.emit('error', wrapped)
    }
    if (this.topology === 'standalone') {
      const client = redis as RedisStandalone
      emitter.on('ready', () => {
        this.#breaker?.success()
        this.emit('ready')
      })
      emitter.on('error', (err) => {
        // A failed reconnect attempt: the server is unreachable, fail fast from now on.
        if (!client.isReady) this.#breaker?.open()
        forward(err)
      })
      // close() emits 'end' itself; this is for a client that ended on its own (reconnect gave up).
      emitter.on('end', () => {
        if (!this.#closing) this.emit('end')
      })
    } else if (this.topology === 'cluster') {
      emitter.on('error', forward)
      emitter.on('node-error', forward)
      emitter.on('node-ready', () => this.emit('ready'))
    } else {
      emitter.on('error', forward)
      emitter.on('topology-change', (event: unknown) => this.emit('topology-change', event))
    }
  }

  /** Called by the reconnect strategy of every node client. @internal */
  onReconnecting(attempt: number, delayMs: number): void {
    this.emit('reconnecting', { attempt, delayMs })
  }

  /**
   * Runs one server operation on the guarded path: fails fast with E_UNAVAILABLE while the breaker is open,
   * limits the round trip to `timeoutMs` (E_TIMEOUT), maps errors to CacheError and publishes
   * `cache:client:command`. Every @cache package sends its commands through here.
   */
  exec<T>(command: string, fn: () => Promise<T>, timeoutMs = this.config.commandTimeoutMs): Promise<T> {
    return this.#path.exec(command, fn, timeoutMs)
  }

  /**
   * node-redis refreshes its slot map only on MOVED/ASK replies. When a master dies, commands for its slots
   * wait on the dead node's socket and never see a MOVED, so the promoted replica is never found. After a
   * connectivity failure we ask node-redis to rediscover (at most every 250 ms), starting from a random seed.
   */
  #rediscoverCluster(): void {
    const now = Date.now()
    if (now - this.#lastRediscover < 250) return
    this.#lastRediscover = now
    const internal = this.unguarded as unknown as {
      _self?: { _slots?: { rediscover?(start: unknown): Promise<void> } }
      _slots?: { rediscover?(start: unknown): Promise<void> }
    }
    const slots = internal._self?._slots ?? internal._slots
    const seed = this.config.nodes[Math.floor(Math.random() * this.config.nodes.length)]
    if (!slots?.rediscover || !seed) return
    slots.rediscover({ options: { socket: { host: seed.host, port: seed.port } } }).catch(() => {})
  }

  /**
   * Sends a raw command on the guarded path, on any topology.
   * @example await conn.send(['SET', key, value, 'PX', '1000'], { key })
   */
  send<T = unknown>(args: Arg[], options?: SendOptions): Promise<T> {
    return this.#path.call(
      options?.name ?? String(args[0]),
      this,
      this.#send as (...a: unknown[]) => Promise<T>,
      [args, options],
      options?.timeoutMs,
    )
  }

  /**
   * Registers a Lua script and returns a function that runs it with EVALSHA, falling back to EVAL when the
   * server does not know it (NOSCRIPT: after a restart, failover or SCRIPT FLUSH). All keys must share one
   * cluster slot (checked before sending, on every topology, so code that works on one server also works on
   * a cluster) unless `crossSlot` is set.
   */
  defineScript<T = unknown>(name: string, lua: string, options: ScriptOptions): ScriptFn<T> {
    return this.#scripts.define<T>(name, lua, options)
  }

  /** Every master node (one on standalone and Sentinel, each shard's master on a cluster). */
  masters(): Promise<MasterNode[]> {
    return mastersOf(this.unguarded, this.topology, this.#path, BUFFER_OPTIONS)
  }

  /**
   * Iterates keys matching a glob on every master with SCAN (never KEYS), in batches of about `count`.
   * @example for await (const batch of conn.scan(conn.keys.pattern('user:*'))) …
   */
  async *scan(match: string, options: { count?: number; type?: string } = {}): AsyncGenerator<string[]> {
    yield* scanMasters(await this.masters(), match, options)
  }

  /** The dedicated pub/sub connection (created on first call, shared); it resubscribes after a reconnect. */
  subscriber(): Promise<Subscriber> {
    if (this.#closing)
      return Promise.reject(new CacheError('E_CLOSED', `${TAG} subscriber: the connection is closed`))
    this.#subscriber ??= (async () => {
      const client = this.#createSubscriber()
      const sub = new Subscriber(client, this.topology)
      try {
        await withDeadline(
          client.connect() as Promise<unknown>,
          this.config.connectTimeoutMs,
          'subscriber connect',
        )
      } catch (err) {
        this.#subscriber = undefined
        await sub.close()
        throw connectFailure(err, 'subscriber connect')
      }
      return sub
    })()
    return this.#subscriber
  }

  /** Pings every master and reports latency, role, version and memory. Never throws: `ok` says it. */
  async health(): Promise<HealthReport> {
    let masters: MasterNode[] = []
    try {
      masters = await this.masters()
    } catch {}
    return healthOf(masters, this.topology, this.breakerState)
  }

  /**
   * Connection settings in ioredis's shape, so BullMQ (which uses ioredis) reaches the same server with the
   * same credentials and TLS. `maxRetriesPerRequest: null` is set, as BullMQ workers require.
   */
  bullmq(): IoRedisOptions {
    return ioRedisOptions(this.config)
  }

  /** `await using x = …` closes it (same as `close()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Stops accepting commands, waits up to `drainTimeout` for in-flight ones, then closes every connection
   * this Connection opened (a client passed to `connect()` stays open: it is the caller's). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#path.drain(this.config.drainTimeoutMs)
      this.#path.stop()
      const closing: Promise<unknown>[] = this.#owned.map((r) => closeQuietly(r, this.config.drainTimeoutMs))
      if (this.#subscriber) closing.push(this.#subscriber.then((s) => s.close()).catch(() => {}))
      await Promise.all(closing)
      this.emit('end')
    })()
    return this.#closing
  }
}

/** `(args, options) => reply` on the raw client of a topology, routed by `options.key` on a cluster. */
function rawSender(
  redis: AnyRedis,
  topology: Topology,
): (args: Arg[], options: SendOptions | undefined) => Promise<unknown> {
  switch (topology) {
    case 'cluster': {
      const cluster = redis as RedisCluster
      return (args, o) =>
        cluster.sendCommand(o?.key, o?.readonly, args, o?.buffers ? BUFFER_OPTIONS : undefined)
    }
    case 'sentinel': {
      const sentinel = redis as RedisSentinel
      return (args, o) => sentinel.sendCommand(o?.readonly, args, o?.buffers ? BUFFER_OPTIONS : undefined)
    }
    default: {
      const client = redis as RedisStandalone
      return (args, o) => client.sendCommand(args, o?.buffers ? BUFFER_OPTIONS : undefined)
    }
  }
}

/**
 * Whether commands sent now would wait in node-redis's offline queue: the client is not ready (standalone),
 * or a master's node client is not (Cluster: coarse, commands for healthy shards count too while one is
 * down). Sentinel: node-redis holds commands in its own rediscovery loop instead, bounded by their round-trip
 * limit, so nothing is counted here.
 */
function notReady(redis: AnyRedis, topology: Topology): () => boolean {
  switch (topology) {
    case 'cluster': {
      const internal = redis as unknown as {
        _self?: { _slots?: ClusterSlots }
        _slots?: ClusterSlots
      }
      const slots = internal._self?._slots ?? internal._slots
      if (!slots) return () => false
      return () => {
        for (const m of slots.masters) if (m.client !== undefined && !m.client.isReady) return true
        return false
      }
    }
    case 'sentinel':
      return () => false
    default: {
      const client = redis as RedisStandalone
      return () => !client.isReady
    }
  }
}

interface ClusterSlots {
  masters: ReadonlyArray<{ client?: { isReady: boolean } }>
}

async function closeQuietly(redis: AnyRedis, timeoutMs: number): Promise<void> {
  const r = redis as unknown as { isOpen?: boolean; close(): Promise<void>; destroy(): void | Promise<void> }
  try {
    if (r.isOpen === false) return
    await withDeadline(r.close(), timeoutMs, 'close')
  } catch {
    try {
      await r.destroy()
    } catch {}
  }
}

export { fatalConnectError } from './auth-tls.js'
export type { IoRedisOptions } from './bullmq.js'
export { type CommandEvent, commandChannel } from './command-path.js'
export { createRedis, nodeClientOptions } from './create-redis.js'
export { connectFailure, toCacheError } from './error-mapping.js'
export type { HealthReport, NodeHealth } from './health.js'
export { parseInfo } from './info.js'
export type { MasterNode } from './masters.js'
export type { ScriptFn, ScriptOptions } from './scripts-registry.js'
