/**
 * Cached queries for node-postgres. Import from `@cache/integrations/pg` (pg is an optional peer).
 * @example
 * const db = cachePg(new pg.Pool(), { cache, ttl: '1m' })
 * await db.query('select * from users where id = $1', [1]) // cached, tagged table:users
 * await db.query('update users set name = $1 where id = $2', ['x', 1]) // runs, drops table:users reads
 */
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import { type QueryCacheSetting, resolveSqlOptions, type SqlCacheOptions, SqlSession } from './sql-cache.js'

/** A pg query config with this package's per-query setting. */
export interface CachedQueryConfig<I = unknown[]> extends QueryConfig<I> {
  /** `false` runs it uncached; `{ ttl, tags }` overrides the adapter's. */
  cache?: QueryCacheSetting
}

/** What the wrapped pg object's `query` accepts and returns (callbacks and Submittables pass through). */
type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>

/** A cached read's stored form: the result without pg's internals. */
function plain<R extends QueryResultRow>(r: QueryResult<R>): QueryResult<R> {
  return {
    command: r.command,
    rowCount: r.rowCount,
    oid: r.oid,
    rows: r.rows,
    fields: r.fields.map((f) => ({ ...f })),
  }
}

/**
 * Wraps a pg `Pool` or `Client`: reads (SELECT / WITH) are answered from the cache, tagged by the tables
 * they read; writes run and invalidate those tables — at COMMIT when inside a transaction of a client (reads
 * inside a transaction are never cached). `pool.connect()` hands out wrapped clients too. A query config
 * may carry `cache: false` or `cache: { ttl, tags }`.
 */
export function cachePg<T extends Queryable>(db: T, options: SqlCacheOptions): T {
  const o = resolveSqlOptions(options)
  const wrap = <D extends Queryable>(target: D): D => {
    const session = new SqlSession(o)
    return new Proxy(target, {
      get(t, prop, receiver) {
        if (prop === 'query') {
          return (...args: unknown[]) => {
            const [first, second] = args
            const query = (t as Pool).query.bind(t) as (...a: unknown[]) => Promise<QueryResult>
            // callbacks, Submittables (cursors, streams) and prepared names go straight to pg
            if (
              args.some((a) => typeof a === 'function') ||
              (typeof first === 'object' && first !== null && 'submit' in first)
            )
              return query(...args)
            const config = (
              typeof first === 'string' ? { text: first, values: second } : first
            ) as CachedQueryConfig
            const { cache: setting, ...pgConfig } = config
            const values = (pgConfig.values ?? (Array.isArray(second) ? second : [])) as unknown[]
            const rowMode = (pgConfig as { rowMode?: string }).rowMode
            const keyParams = rowMode ? [values, rowMode] : values
            return session.execute(pgConfig.text, keyParams, setting, async () =>
              plain(await query({ ...pgConfig, values })),
            )
          }
        }
        if (prop === 'connect' && typeof (t as Pool).connect === 'function') {
          return async (...args: unknown[]) => {
            if (args.length) return (t as Pool).connect(...(args as [never]))
            return wrap(await (t as Pool).connect())
          }
        }
        const v = Reflect.get(t, prop, receiver)
        return typeof v === 'function' ? v.bind(t) : v
      },
    })
  }
  return wrap(db)
}
