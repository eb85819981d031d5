/**
 * Cached queries for Kysely. Import from `@cache/integrations/kysely` (kysely is an optional peer).
 * @example
 * const db = new Kysely<DB>({ dialect: cachedDialect(new PostgresDialect({ pool }), { cache, ttl: '1m' }) })
 * await db.selectFrom('users').selectAll().execute() // cached, tagged table:users
 * await db.selectFrom('users').selectAll().withPlugin(cached({ ttl: '5s', tags: ['hot'] })).execute()
 * await db.updateTable('users').set({ name: 'x' }).execute() // drops table:users reads
 */
import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  TransactionSettings,
  UnknownRow,
} from 'kysely'
import { type QueryCacheSetting, resolveSqlOptions, type SqlCacheOptions, SqlSession } from './sql-cache.js'

/** Per-query settings the `cached()` plugin attaches, by Kysely's query id. */
const settings = new WeakMap<object, QueryCacheSetting>()

/** The Kysely plugin of one query's cache setting: `false` (uncached) or `{ ttl, tags }`. */
class CachePlugin implements KyselyPlugin {
  readonly #setting: QueryCacheSetting
  constructor(setting: QueryCacheSetting) {
    this.#setting = setting
  }
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    settings.set(args.queryId, this.#setting)
    return args.node
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}

/**
 * Per-query cache settings for a `cachedDialect` database: `.withPlugin(cached({ ttl: '5s', tags }))` on
 * a query (or on `db`) caches it with those, `.withPlugin(cached(false))` runs it uncached.
 */
export function cached(setting: QueryCacheSetting = {}): KyselyPlugin {
  return new CachePlugin(setting)
}

class CachedConnection implements DatabaseConnection {
  readonly session: SqlSession
  constructor(
    readonly inner: DatabaseConnection,
    session: SqlSession,
  ) {
    this.session = session
  }
  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    return this.session.execute(q.sql, q.parameters, settings.get(q.queryId), async () => {
      const r = await this.inner.executeQuery<R>(q)
      // bigint counters do not survive every codec; a cached read only needs its rows
      return r.numAffectedRows === undefined && r.insertId === undefined ? { rows: r.rows } : r
    })
  }
  streamQuery<R>(q: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(q, chunkSize)
  }
}

class CachedDriver implements Driver {
  readonly #inner: Driver
  readonly #make: () => SqlSession
  readonly #connections = new WeakMap<DatabaseConnection, CachedConnection>()
  constructor(inner: Driver, make: () => SqlSession) {
    this.#inner = inner
    this.#make = make
  }
  init(): Promise<void> {
    return this.#inner.init()
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const raw = await this.#inner.acquireConnection()
    let c = this.#connections.get(raw)
    if (!c) {
      c = new CachedConnection(raw, this.#make())
      this.#connections.set(raw, c)
    }
    return c
  }
  async beginTransaction(connection: DatabaseConnection, s: TransactionSettings): Promise<void> {
    const c = connection as CachedConnection
    await this.#inner.beginTransaction(c.inner, s)
    c.session.begin()
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as CachedConnection
    await this.#inner.commitTransaction(c.inner)
    await c.session.commit()
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as CachedConnection
    await this.#inner.rollbackTransaction(c.inner)
    c.session.rollback()
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection((connection as CachedConnection).inner)
  }
  destroy(): Promise<void> {
    return this.#inner.destroy()
  }
}

/**
 * A Kysely dialect that caches reads (tagged by the tables they read) and invalidates those tables on
 * writes made through it (at commit inside a transaction; reads inside a transaction are not cached).
 * Wraps any dialect: `cachedDialect(new PostgresDialect({ pool }), { cache, ttl: '1m' })`.
 */
export function cachedDialect(dialect: Dialect, options: SqlCacheOptions): Dialect {
  const o = resolveSqlOptions(options)
  const driver = dialect.createDriver()
  const wrapped = new CachedDriver(driver, () => new SqlSession(o))
  // savepoints pass through unchanged (they never commit by themselves)
  for (const m of ['savepoint', 'rollbackToSavepoint', 'releaseSavepoint'] as const) {
    const fn = driver[m]
    if (fn)
      (wrapped as unknown as Record<string, unknown>)[m] = (c: DatabaseConnection, ...rest: unknown[]) =>
        (fn as (...a: unknown[]) => Promise<void>).call(driver, (c as CachedConnection).inner, ...rest)
  }
  return {
    createDriver: () => wrapped,
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  }
}
