import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import { RESP_TYPES } from '@redis/client'
import { type BreakerState, CircuitBreaker } from './breaker.js'
import { type IoRedisOptions, ioRedisOptions } from './bullmq.js'
import type { ResolvedConfig } from './config.js'
import { withDeadline } from './deadline.js'
import { connectFailure, toCacheError } from './error-mapping.js'
import { CacheError, isCacheError, isUnavailable } from './errors.js'
import { type HealthReport, healthOf } from './health.js'
import { hashSlot, KeyBuilder } from './keys.js'
import { TAG } from './pkg.js'
import { Subscriber } from './subscriber.js'
import type { AnyRedis, Arg, RedisCluster, RedisSentinel, RedisStandalone, Topology } from './types.js'

/** Published on `cache:client:command` after every command sent through a Connection. */
export interface CommandEvent {
  command: string
  topology: Topology
  durationMs: number
  ok: boolean
  errorCode?: string
}

/** diagnostics_channel `cache:client:command`: per-command latency and outcome, for metrics and tracing. */
export const commandChannel = diagnostics.channel('cache:client:command')
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

/** Options of `conn.defineScript()`. */
export interface ScriptOptions {
  /** How many KEYS the script takes; calls with another count are rejected. */
  keys: number
  /** Bulk strings come back as Buffers. @default false */
  buffers?: boolean
  /** Allow keys in different cluster slots (standalone-only scripts). @default false */
  crossSlot?: boolean
}

/** A loaded Lua script: `(keys, args) => reply`. */
export type ScriptFn<T = unknown> = ((
  keys: ReadonlyArray<string>,
  args?: ReadonlyArray<Arg | number>,
) => Promise<T>) & {
  readonly scriptName: string
  readonly sha: string
}

/** One master node, for commands that must visit every master (SCAN, INFO, SCRIPT FLUSH). */
export interface MasterNode {
  address: string
  send<T = unknown>(args: Arg[], options?: { buffers?: boolean; timeoutMs?: number }): Promise<T>
}

/** A command on the guarded path, until it settles. */
interface PendingCommand {
  command: string
  start: number
  timed: boolean
  deadline: number
  timeoutMs: number
  resolve(value: unknown): void
  reject(err: unknown): void
  settled: boolean
}

const BUFFER_OPTIONS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const
const NOT_WRAPPED = new Set([
  'multi',
  'MULTI',
  'duplicate',
  'connect',
  'close',
  'destroy',
  'quit',
  'QUIT',
  'disconnect',
  'ref',
  'unref',
  'nodeClient',
  'getMasters',
  'getSlotRandomNode',
  'getMasterNode',
  'getReplicaNodes',
  'acquire',
  'use',
  'withCommandOptions',
  'withTypeMapping',
  'withAbortSignal',
  'asap',
  'scanIterator',
  'hScanIterator',
  'sScanIterator',
  'zScanIterator',
  'subscribe',
  'SUBSCRIBE',
  'unsubscribe',
  'UNSUBSCRIBE',
  'pSubscribe',
  'PSUBSCRIBE',
  'pUnsubscribe',
  'PUNSUBSCRIBE',
  'sSubscribe',
  'SSUBSCRIBE',
  'sUnsubscribe',
  'SUNSUBSCRIBE',
  'executeIsolated',
  'createPool',
  'getSentinelNode',
  'setTracking',
  'on',
  'once',
  'off',
  'emit',
  'addListener',
  'removeListener',
  'removeAllListeners',
  'listeners',
  'listenerCount',
  'eventNames',
  'prependListener',
  'prependOnceListener',
  'getMaxListeners',
  'setMaxListeners',
  'rawListeners',
])

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
  #inflight = 0
  #lastRediscover = 0
  readonly #pending = new Set<PendingCommand>()
  #sweeper: NodeJS.Timeout | undefined
  #lastSweep = performance.now()
  readonly #tickMs: number
  #drained: (() => void) | undefined
  #closing: Promise<void> | undefined
  #subscriber: Promise<Subscriber> | undefined
  readonly #scripts = new Map<string, ScriptFn<any>>()

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
    this.#tickMs = Math.max(5, Math.min(50, Math.floor(config.commandTimeoutMs / 20)))
    this.#breaker =
      config.breaker === false
        ? undefined
        : new CircuitBreaker(config.breaker, (state) => {
            if (breakerChannel.hasSubscribers) breakerChannel.publish({ topology: this.topology, state })
            this.emit('breaker', state)
          })
    this.redis = this.#guarded(parts.redis) as RedisStandalone
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
    if (this.#closing) {
      return Promise.reject(new CacheError('E_CLOSED', `${TAG} ${command}: the connection is closed`))
    }
    const breaker = this.#breaker
    if (breaker && !breaker.allow()) {
      this.#publish(command, 0, 'E_UNAVAILABLE')
      return Promise.reject(
        new CacheError(
          'E_UNAVAILABLE',
          `${TAG} ${command}: ${this.topology} server unavailable (circuit open)`,
          {
            details: { retryAfterMs: breaker.retryAfterMs },
          },
        ),
      )
    }
    this.#inflight++
    const timed = commandChannel.hasSubscribers
    const start = performance.now()
    let reply: Promise<T>
    try {
      reply = fn()
    } catch (err) {
      reply = Promise.reject(err)
    }
    return new Promise<T>((resolve, reject) => {
      const op: PendingCommand = {
        command,
        start,
        timed,
        deadline: start + timeoutMs,
        timeoutMs,
        resolve,
        reject,
        settled: false,
      }
      if (timeoutMs > 0) {
        this.#pending.add(op)
        this.#sweeper ??= setInterval(() => this.#sweep(), this.#tickMs).unref()
      }
      reply.then(
        (value) => this.#settle(op, undefined, value),
        (err) => this.#settle(op, err ?? new Error('rejected')),
      )
    })
  }

  /**
   * Times out overdue commands. One unref'd interval for all of them instead of a timer per command: at
   * 200k+ commands/s a setTimeout/clearTimeout pair per command costs more than the rest of the guarded path.
   */
  #sweep(): void {
    const now = performance.now()
    const late = now - this.#lastSweep > this.#tickMs * 3
    this.#lastSweep = now
    // The event loop was blocked (GC pause, CPU-bound work): timers run before pending socket reads, so
    // replies that arrived meanwhile have not been read yet. Judge deadlines on the next tick instead.
    if (late) return
    for (const op of this.#pending) {
      if (op.deadline <= now) {
        this.#settle(
          op,
          new CacheError('E_TIMEOUT', `${TAG} ${op.command} got no reply within ${op.timeoutMs}ms`, {
            details: { timeoutMs: op.timeoutMs },
          }),
        )
      }
    }
  }

  #settle(op: PendingCommand, err: unknown, value?: unknown): void {
    if (op.settled) return
    op.settled = true
    if (op.timeoutMs > 0) this.#pending.delete(op)
    if (--this.#inflight === 0) this.#drained?.()
    const breaker = this.#breaker
    if (err === undefined) {
      breaker?.success()
      if (op.timed) this.#publish(op.command, performance.now() - op.start)
      op.resolve(value)
      return
    }
    const durationMs = performance.now() - op.start
    const error = toCacheError(err, op.command)
    if (this.topology === 'cluster' && isUnavailable(error)) this.#rediscoverCluster()
    if (breaker) {
      if (isUnavailable(error)) breaker.failure()
      else breaker.success() // the server answered, with an error of the command's own
    }
    this.#publish(op.command, durationMs, error.code)
    op.reject(error)
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

  #publish(command: string, durationMs: number, errorCode?: string): void {
    if (!commandChannel.hasSubscribers) return
    const event: CommandEvent = { command, topology: this.topology, durationMs, ok: errorCode === undefined }
    if (errorCode) event.errorCode = errorCode
    commandChannel.publish(event)
  }

  #guarded(target: AnyRedis): AnyRedis {
    const cache = new Map<string, (...args: unknown[]) => unknown>()
    return new Proxy(target, {
      get: (obj, prop) => {
        if (typeof prop === 'string') {
          const hit = cache.get(prop)
          if (hit) return hit
        }
        const value = Reflect.get(obj, prop, obj) as unknown
        if (typeof value !== 'function') return value
        if (typeof prop !== 'string' || NOT_WRAPPED.has(prop) || prop.startsWith('_')) return value.bind(obj)
        const name = prop.toUpperCase()
        const wrapped = (...args: unknown[]) =>
          this.exec(name, () => (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args))
        cache.set(prop, wrapped)
        return wrapped
      },
    })
  }

  /**
   * Sends a raw command on the guarded path, on any topology.
   * @example await conn.send(['SET', key, value, 'PX', '1000'], { key })
   */
  send<T = unknown>(args: Arg[], options: SendOptions = {}): Promise<T> {
    const commandOptions = options.buffers ? BUFFER_OPTIONS : undefined
    const name = options.name ?? String(args[0])
    return this.exec<T>(
      name,
      () => {
        switch (this.topology) {
          case 'cluster':
            return (this.unguarded as RedisCluster).sendCommand<T>(
              options.key,
              options.readonly,
              args,
              commandOptions,
            )
          case 'sentinel':
            return (this.unguarded as RedisSentinel).sendCommand<T>(options.readonly, args, commandOptions)
          default:
            return (this.unguarded as RedisStandalone).sendCommand<T>(args, commandOptions)
        }
      },
      options.timeoutMs,
    )
  }

  /**
   * Registers a Lua script and returns a function that runs it with EVALSHA, falling back to EVAL when the
   * server does not know it (NOSCRIPT: after a restart, failover or SCRIPT FLUSH). All keys must share one
   * cluster slot (checked before sending, on every topology, so code that works on one server also works on
   * a cluster) unless `crossSlot` is set.
   */
  defineScript<T = unknown>(name: string, lua: string, options: ScriptOptions): ScriptFn<T> {
    const existing = this.#scripts.get(name)
    const sha = createHash('sha1').update(lua).digest('hex')
    if (existing) {
      if (existing.sha !== sha) {
        throw new CacheError(
          'E_INVALID_OPTION',
          `${TAG} script "${name}" is already defined with other source`,
          {
            details: { field: 'name' },
          },
        )
      }
      return existing as ScriptFn<T>
    }
    const command = `EVALSHA ${name}`
    const fn = async (keys: ReadonlyArray<string>, args: ReadonlyArray<Arg | number> = []): Promise<T> => {
      if (keys.length !== options.keys) {
        throw new CacheError(
          'E_INVALID_ARGUMENT',
          `${TAG} script "${name}" takes ${options.keys} keys, got ${keys.length}`,
        )
      }
      if (!options.crossSlot && keys.length > 1) {
        const slot = hashSlot(keys[0]!)
        if (keys.some((k) => hashSlot(k) !== slot)) {
          throw new CacheError(
            'E_CROSSSLOT',
            `${TAG} script "${name}": keys map to different cluster slots; use {hash tags}`,
            {
              details: { script: name },
            },
          )
        }
      }
      const tail: Arg[] = [String(keys.length), ...keys]
      for (const a of args) tail.push(typeof a === 'number' ? String(a) : a)
      const sendOptions: SendOptions = { key: keys[0], buffers: options.buffers ?? false, name: command }
      try {
        return await this.send<T>(['EVALSHA', sha, ...tail], sendOptions)
      } catch (err) {
        if (
          isCacheError(err, 'E_COMMAND') &&
          /NOSCRIPT/.test(String((err.cause as Error | undefined)?.message))
        ) {
          return this.send<T>(['EVAL', lua, ...tail], sendOptions)
        }
        throw err
      }
    }
    const script = Object.assign(fn, { scriptName: name, sha }) as ScriptFn<T>
    this.#scripts.set(name, script)
    return script
  }

  /** Every master node (one on standalone and Sentinel, each shard's master on a cluster). */
  async masters(): Promise<MasterNode[]> {
    const wrap = (address: string, raw: (args: Arg[], o: unknown) => Promise<unknown>): MasterNode => ({
      address,
      send: <T>(args: Arg[], o: { buffers?: boolean; timeoutMs?: number } = {}) =>
        this.exec<T>(
          `${String(args[0])}@${address}`,
          () => raw(args, o.buffers ? BUFFER_OPTIONS : undefined) as Promise<T>,
          o.timeoutMs,
        ),
    })
    if (this.topology === 'cluster') {
      const cluster = this.unguarded as RedisCluster
      return Promise.all(
        cluster.masters.map(async (m) => {
          const client = (await cluster.nodeClient(m)) as unknown as RedisStandalone
          return wrap(`${m.host}:${m.port}`, (args, o) => client.sendCommand(args, o as undefined))
        }),
      )
    }
    if (this.topology === 'sentinel') {
      const sentinel = this.unguarded as RedisSentinel
      const node = sentinel.getMasterNode()
      return [
        wrap(node ? `${node.host}:${node.port}` : 'master', (args, o) =>
          sentinel.sendCommand(false, args, o as undefined),
        ),
      ]
    }
    const client = this.unguarded as RedisStandalone
    const socket = client.options?.socket as { host?: string; port?: number } | undefined
    return [
      wrap(`${socket?.host ?? '127.0.0.1'}:${socket?.port ?? 6379}`, (args, o) =>
        client.sendCommand(args, o as undefined),
      ),
    ]
  }

  /**
   * Iterates keys matching a glob on every master with SCAN (never KEYS), in batches of about `count`.
   * @example for await (const batch of conn.scan(conn.keys.pattern('user:*'))) …
   */
  async *scan(
    match: string,
    { count = 500, type }: { count?: number; type?: string } = {},
  ): AsyncGenerator<string[]> {
    for (const node of await this.masters()) {
      let cursor = '0'
      do {
        const args = ['SCAN', cursor, 'MATCH', match, 'COUNT', String(count)]
        if (type) args.push('TYPE', type)
        const reply = await node.send<[string, string[]]>(args)
        cursor = String(reply[0])
        if (reply[1].length > 0) yield reply[1]
      } while (cursor !== '0')
    }
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
      if (this.#inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.config.drainTimeoutMs)
          this.#drained = () => {
            clearTimeout(timer)
            resolve()
          }
        })
      }
      if (this.#sweeper) clearInterval(this.#sweeper)
      const closing: Promise<unknown>[] = this.#owned.map((r) => closeQuietly(r, this.config.drainTimeoutMs))
      if (this.#subscriber) closing.push(this.#subscriber.then((s) => s.close()).catch(() => {}))
      await Promise.all(closing)
      this.emit('end')
    })()
    return this.#closing
  }
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
export { createRedis, nodeClientOptions } from './create-redis.js'
export { connectFailure, toCacheError } from './error-mapping.js'
export type { HealthReport, NodeHealth } from './health.js'
export { parseInfo } from './info.js'
