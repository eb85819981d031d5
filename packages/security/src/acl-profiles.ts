/**
 * What each @cache package sends to Redis, declared once: the commands (each with the smallest valid
 * argument list, so `verifyAcl` can replay it through ACL DRYRUN), where its keys live and which pub/sub
 * channels it uses. `generateAcl` turns these into rules; `acl-profiles.test.ts` checks them against the
 * packages' sources (every command literal and every `redis.call` of their Lua scripts).
 *
 * Placeholders in a probe: `{k}` a key of the package, `{c}` a channel of the package, `{p}` the namespace
 * prefix (`ns:`; Redis matches PSUBSCRIBE patterns literally against the grant), `{q}` a BullMQ key.
 */

/** Names of the packages `generateAcl` knows. */
export const ACL_PACKAGES = [
  'core',
  'tiered',
  'locks',
  'ratelimit',
  'events',
  'session',
  'queue',
  'metrics',
  'security',
  'integrations',
] as const

/** A package `generateAcl` can grant. */
export type AclPackage = (typeof ACL_PACKAGES)[number]

/** Where a package keeps keys: under the connection namespace, or under BullMQ's queue prefix. */
export type KeyScope = 'namespace' | 'queue'

/** One package's needs. */
export interface AclProfile {
  /** Probes of every command it sends, including those its Lua scripts call. */
  readonly probes: readonly string[]
  /** Key scopes it uses. */
  readonly keys: readonly KeyScope[]
  /** Uses pub/sub channels under the namespace. */
  readonly channels: boolean
  /** Packages it is built on (tiered's L2 is a RedisCache): granted with it. */
  readonly requires?: readonly AclPackage[]
  /** Channels outside the namespace, by exact name (CLIENT TRACKING's `__redis__:invalidate`). */
  readonly extraChannels?: readonly string[]
}

const SHA = '0000000000000000000000000000000000000000'

/**
 * What @cache/client sends for every package: health (PING, INFO), connection setup (CLIENT SETNAME,
 * SETINFO), Cluster discovery and replica reads, scripts (EVALSHA with EVAL fallback), SCAN, MULTI,
 * the subscriber, and the Lease mechanism (SET NX, its release and renew scripts).
 */
export const CLIENT_PROFILE: AclProfile = {
  probes: [
    'PING',
    'INFO',
    'CLIENT SETNAME n',
    'CLIENT SETINFO LIB-NAME n',
    'CLUSTER SLOTS',
    'CLUSTER SHARDS',
    'READONLY',
    'READWRITE',
    'ASKING',
    `EVALSHA ${SHA} 1 {k}`,
    'EVAL return 1 {k}',
    'SCAN 0',
    'MULTI',
    'EXEC',
    'DISCARD',
    'SUBSCRIBE {c}',
    'UNSUBSCRIBE {c}',
    'PSUBSCRIBE {p}*',
    'PUNSUBSCRIBE {p}*',
    'SSUBSCRIBE {c}',
    'SUNSUBSCRIBE {c}',
    'SET {k} v PX 1000 NX',
    'GET {k}',
    'DEL {k}',
    'PEXPIRE {k} 1000',
    'PUBLISH {c} m',
  ],
  keys: ['namespace'],
  channels: true,
}

/**
 * What a read-only user (`readOnly: true`) keeps of each profile: commands that read keys (Redis's @read),
 * connection setup, discovery and subscriptions (pub/sub and CLIENT TRACKING are how readers stay fresh).
 */
export const READ_COMMANDS: ReadonlySet<string> = new Set([
  ...['ping', 'info', 'client|setname', 'client|setinfo', 'client|getname', 'client|id', 'client|tracking'],
  ...['cluster|slots', 'cluster|shards', 'readonly', 'readwrite', 'asking', 'scan', 'type'],
  ...['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe'],
  ...['get', 'mget', 'exists', 'pttl', 'hget', 'hmget', 'hgetall', 'hkeys', 'hlen', 'hexists'],
  ...['lindex', 'llen', 'lrange', 'lpos', 'smembers', 'scard', 'sismember', 'sscan', 'pfcount'],
  ...['zcard', 'zcount', 'zrange', 'zrangebyscore', 'zrangebylex', 'zlexcount', 'zrevrange'],
  ...['zrevrangebyscore', 'zscore', 'xlen', 'xrange', 'xrevrange', 'pexpiretime', 'memory|usage'],
])

/** Every package's profile. */
export const ACL_PROFILES: Readonly<Record<AclPackage, AclProfile>> = {
  core: {
    probes: [
      'GET {k}',
      'MGET {k}',
      'SET {k} v',
      'DEL {k}',
      'UNLINK {k}',
      'EXISTS {k}',
      'PTTL {k}',
      'PEXPIRE {k} 1000',
      'HINCRBY {k} f 1',
      'HGETALL {k}',
      'LINDEX {k} 0',
      'LPUSH {k} v',
      'LTRIM {k} 0 1',
      'LRANGE {k} 0 1',
      'SADD {k} m',
      'SMEMBERS {k}',
    ],
    keys: ['namespace'],
    channels: true,
  },
  tiered: {
    probes: [
      'CLIENT ID',
      'CLIENT TRACKING ON REDIRECT 1 BCAST PREFIX {k}',
      'SUBSCRIBE __redis__:invalidate',
      'EXISTS {k}',
      // index-release.lua: the index sets of a value written by a plain SET (own writes under tracking).
      'SADD {k} m',
      'PTTL {k}',
      'PEXPIRE {k} 1000',
      // mget-or-lease.lua (getManyOrSet): the values L1 lacks and their leases in one call.
      'MGET {k}',
    ],
    requires: ['core'],
    keys: ['namespace'],
    channels: true,
    extraChannels: ['__redis__:invalidate'],
  },
  locks: {
    probes: [
      'SET {k} v PX 1000 NX',
      'GET {k}',
      'DEL {k}',
      'EXISTS {k}',
      'INCR {k}',
      'PEXPIRE {k} 1000',
      'PTTL {k}',
      'HGET {k} f',
      'HSET {k} f v',
      'HDEL {k} f',
      'HGETALL {k}',
      'ZADD {k} 1 m',
      'ZCARD {k}',
      'ZCOUNT {k} 0 1',
      'ZRANGE {k} 0 1',
      'ZREM {k} m',
      'ZREMRANGEBYSCORE {k} 0 1',
      'ZSCORE {k} m',
      'TIME',
      'WAIT 0 0',
      'PUBLISH {c} m',
      'SPUBLISH {c} m',
    ],
    keys: ['namespace'],
    channels: true,
  },
  ratelimit: {
    probes: [
      'GET {k}',
      'DEL {k}',
      'HGET {k} f',
      'HMGET {k} f',
      'HSET {k} f v',
      'HDEL {k} f',
      'HGETALL {k}',
      'HINCRBY {k} f 1',
      'PEXPIRE {k} 1000',
      'PTTL {k}',
      'TIME',
      'ZADD {k} 1 m',
      'ZCARD {k}',
      'ZCOUNT {k} 0 1',
      'ZRANGE {k} 0 1',
      'ZRANGEBYSCORE {k} 0 1',
      'ZREVRANGEBYSCORE {k} 1 0',
      'ZREM {k} m',
      'ZREMRANGEBYSCORE {k} 0 1',
      'ZSCORE {k} m',
      'PUBLISH {c} m',
    ],
    keys: ['namespace'],
    channels: true,
  },
  events: {
    probes: [
      'XADD {k} * f v',
      'XTRIM {k} MAXLEN 1',
      'XLEN {k}',
      'XRANGE {k} - +',
      'XPENDING {k} g',
      'XREADGROUP GROUP g c STREAMS {k} >',
      'XACK {k} g 1-0',
      'XAUTOCLAIM {k} g c 0 0-0',
      'XGROUP CREATE {k} g $ MKSTREAM',
      'DEL {k}',
      'ZADD {k} 1 m',
      'ZREM {k} m',
      'ZCOUNT {k} 0 1',
      'ZRANGEBYSCORE {k} 0 1',
      'ZSCORE {k} m',
      'HSET {k} f v',
      'HDEL {k} f',
      'HMGET {k} f',
      'CLIENT ID',
      'CLIENT UNBLOCK 1',
      'PUBLISH {c} m',
      'SPUBLISH {c} m',
    ],
    keys: ['namespace'],
    channels: true,
  },
  session: {
    probes: [
      'SET {k} v',
      'DEL {k}',
      'EXISTS {k}',
      'HGET {k} f',
      'HMGET {k} f',
      'HSET {k} f v',
      'HDEL {k} f',
      'HGETALL {k}',
      'HKEYS {k}',
      'HINCRBY {k} f 1',
      'PEXPIRE {k} 1000',
      'PEXPIREAT {k} 1000',
      'PTTL {k}',
      'TIME',
      'ZADD {k} 1 m',
      'ZCARD {k}',
      'ZRANGE {k} 0 1',
      'ZREM {k} m',
      'ZREMRANGEBYSCORE {k} 0 1',
      'PFADD {k} e',
      'PFCOUNT {k}',
      'PEXPIRETIME {k}',
      'SADD {k} m',
      'SMEMBERS {k}',
      // session-cas.lua and session-migrate.lua: the string layout (compare, append) and 0.1.x hashes.
      'STRLEN {k}',
      'GETRANGE {k} 0 1',
      'APPEND {k} v',
      'TYPE {k}',
    ],
    keys: ['namespace'],
    channels: false,
  },
  queue: {
    // BullMQ 6: its Lua scripts (commands/*.lua), blocking moves (BZPOPMIN), QueueEvents (XREAD) and its
    // connection setup (CLIENT SETNAME, INFO for the version check). CLIENT LIST (Queue.getWorkers) is
    // left out on purpose: it shows every connection of the server.
    probes: [
      `EVALSHA ${SHA} 1 {q}`,
      'EVAL return 1 {q}',
      'SCRIPT LOAD return',
      `SCRIPT EXISTS ${SHA}`,
      'INFO',
      'CLIENT SETNAME n',
      'CLIENT GETNAME',
      'MULTI',
      'EXEC',
      'BZPOPMIN {q} 1',
      'XREAD STREAMS {q} 0',
      ...[
        'DEL {q}',
        'UNLINK {q}',
        'EXISTS {q}',
        'GET {q}',
        'SET {q} v',
        'INCR {q}',
        'INCRBY {q} 1',
        'RENAME {q} {q}2',
        'TYPE {q}',
        'PEXPIRE {q} 1000',
        'PEXPIREAT {q} 1000',
        'PTTL {q}',
        'TIME',
        'HDEL {q} f',
        'HEXISTS {q} f',
        'HGET {q} f',
        'HGETALL {q}',
        'HINCRBY {q} f 1',
        'HLEN {q}',
        'HMGET {q} f',
        'HMSET {q} f v',
        'HSET {q} f v',
        'LINDEX {q} 0',
        'LLEN {q}',
        'LPOP {q}',
        'LPOS {q} v',
        'LPUSH {q} v',
        'LRANGE {q} 0 1',
        'LREM {q} 0 v',
        'LSET {q} 0 v',
        'LTRIM {q} 0 1',
        'RPOP {q}',
        'RPOPLPUSH {q} {q}2',
        'RPUSH {q} v',
        'SADD {q} m',
        'SCARD {q}',
        'SISMEMBER {q} m',
        'SMEMBERS {q}',
        'SREM {q} m',
        'XADD {q} * f v',
        'XDEL {q} 1-0',
        'XLEN {q}',
        'XRANGE {q} - +',
        'XTRIM {q} MAXLEN 1',
        'ZADD {q} 1 m',
        'ZCARD {q}',
        'ZCOUNT {q} 0 1',
        'ZLEXCOUNT {q} - +',
        'ZPOPMIN {q}',
        'ZRANGE {q} 0 1',
        'ZRANGEBYLEX {q} - +',
        'ZRANGEBYSCORE {q} 0 1',
        'ZREM {q} m',
        'ZREMRANGEBYRANK {q} 0 1',
        'ZREMRANGEBYSCORE {q} 0 1',
        'ZREVRANGE {q} 0 1',
        'ZREVRANGEBYSCORE {q} 1 0',
        'ZSCORE {q} m',
      ],
    ],
    keys: ['queue'],
    channels: false,
  },
  metrics: {
    probes: [
      'HGET {k} f',
      'HSET {k} f v',
      'HGETALL {k}',
      'HMGET {k} f',
      'HINCRBY {k} f 1',
      'HINCRBYFLOAT {k} f 1',
      'PEXPIRE {k} 1000',
      'PFADD {k} e',
      'PFCOUNT {k}',
      // Labelled uniques list their label sets in the totals hash.
      'HKEYS {k}',
      // The big-keys report (TYPE, PTTL and MEMORY USAGE of sampled keys, inside the granted patterns).
      'TYPE {k}',
      'PTTL {k}',
      'MEMORY USAGE {k}',
    ],
    keys: ['namespace'],
    channels: false,
  },
  security: {
    // AuditLog, rewrap, keyring.usage, KeyUsageCounter, SubjectIndex and eraseSubject (which also runs
    // the cache and session deletions of core and session: grant those packages too). ACL LOG (for
    // AuditLog.importAclLog) is an admin command: granted only with `aclLog: true`.
    probes: [
      'GET {k}',
      'SET {k} v KEEPTTL',
      'DEL {k}',
      'UNLINK {k}',
      'HGET {k} f',
      'HSET {k} f v',
      'HDEL {k} f',
      'HGETALL {k}',
      'HINCRBY {k} f 1',
      'XADD {k} * f v',
      'XRANGE {k} - +',
      'XREVRANGE {k} + -',
      'XTRIM {k} MINID 0',
      'SADD {k} m',
      'SREM {k} m',
      'SSCAN {k} 0',
      'SCARD {k}',
      'EXISTS {k}',
      'PEXPIRE {k} 1000',
    ],
    keys: ['namespace'],
    channels: false,
  },
  integrations: {
    // The shared CircuitBreaker (its hash, its scripts' server clock, state changes on its channel); the
    // response and SQL caches are RedisCaches (core). RateLimitStore, withRateLimit and withSession need
    // ratelimit and session granted too.
    probes: [
      'HGET {k} f',
      'HMGET {k} f',
      'HSET {k} f v',
      'HDEL {k} f',
      'HINCRBY {k} f 1',
      'HKEYS {k}',
      'DEL {k}',
      'PEXPIRE {k} 1000',
      'TIME',
      'PUBLISH {c} m',
    ],
    requires: ['core'],
    keys: ['namespace'],
    channels: true,
  },
}

/**
 * Commands that appeared after Redis 7.0 (the oldest server the family supports): granted only when
 * `generateAcl({ redisVersion })` is at least this version (Redis refuses ACL rules naming unknown commands).
 */
export const COMMAND_SINCE: Readonly<Record<string, readonly [number, number]>> = {
  'client|setinfo': [7, 2],
}

/** The probe granted only with `aclLog: true` (AuditLog.importAclLog). */
export const ACL_LOG_PROBES: readonly string[] = ['ACL LOG 1']

/**
 * Server diagnostics of @cache/metrics (slow log, latency, memory stats): admin commands, granted only
 * with `diagnostics: true` (a monitoring user); without them the report notes what it could not read.
 */
export const DIAGNOSTICS_PROBES: readonly string[] = [
  'SLOWLOG GET 1',
  'SLOWLOG LEN',
  'LATENCY LATEST',
  'MEMORY STATS',
]

/** Commands whose second word is a subcommand with its own ACL entry (`client|id`). */
const CONTAINERS = new Set(
  'ACL CLIENT CLUSTER CONFIG SCRIPT XGROUP XINFO OBJECT MEMORY SLOWLOG LATENCY COMMAND FUNCTION MODULE PUBSUB'.split(
    ' ',
  ),
)

/** The ACL name of a probe's command: `get`, `client|tracking`. */
export function commandOf(probe: string): string {
  const [first = '', second = ''] = probe.split(' ')
  const cmd = first.toLowerCase()
  return CONTAINERS.has(first) ? `${cmd}|${second.toLowerCase()}` : cmd
}

/**
 * What a user must never be able to run whatever packages it has: `verifyAcl` checks each is refused.
 * `{x}` is a key outside every granted namespace.
 */
export const FORBIDDEN_PROBES: readonly string[] = [
  'FLUSHALL',
  'FLUSHDB',
  'CONFIG GET maxmemory',
  'CONFIG SET maxmemory 0',
  'KEYS *',
  'DEBUG SLEEP 0',
  'SHUTDOWN',
  'CLIENT LIST',
  'CLIENT KILL ID 1',
  'MONITOR',
  'SWAPDB 0 1',
  'ACL SETUSER x',
  'MODULE LIST',
  'SCRIPT FLUSH',
  'GET {x}',
  'SET {x} v',
]
