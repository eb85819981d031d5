import { type Duration, InvalidOptionError, parseOptions, zDuration } from '@cache/client'
import { type Cache, cacheQuery } from '@cache/core'
import { z } from 'zod'
import { MAX_ENTRY_MS, MIN_ENTRY_MS, PKG } from './defaults.js'
import { statementTables, tableTag } from './sql-tables.js'

/** Options of `cachedQuery()`. */
export interface CachedQueryOptions<R> {
  /** Runs the query (on a miss). */
  run: () => Promise<R>
  /** Time to live. @default the cache's defaultTtl */
  ttl?: Duration
  /** Tags added to the table tags (`table:<name>` of every table the query reads). */
  tags?: readonly string[]
}

/**
 * Caches a query's result under a key of its text and parameters, tagged `table:<name>` for every table it
 * reads, so a write to one of them (`invalidateWrites`, or any write through the pg / Kysely adapters)
 * drops it; concurrent identical queries run once (getOrSet). Writes are never cached: they run.
 * @example
 * const rows = await cachedQuery(cache, 'select * from users where org = $1', [org], { ttl: '1m', run: () => pool.query(...) })
 */
export async function cachedQuery<R>(
  cache: Cache,
  sql: string,
  params: readonly unknown[],
  options: CachedQueryOptions<R>,
): Promise<R> {
  if (typeof options?.run !== 'function') throw new InvalidOptionError(PKG, 'run', 'must be a function')
  const tables = statementTables(sql)
  if (tables.write) {
    const result = await options.run()
    await invalidateTables(cache, tables.writes)
    return result
  }
  const tags = [...(options.tags ?? []), ...tables.reads.map(tableTag)]
  return cacheQuery(cache as Cache<R>, sql, params, options.run, {
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(tags.length ? { tags } : {}),
  })
}

/** Drops every cached query reading one of the tables; returns how many were dropped. */
export function invalidateTables(cache: Cache, tables: readonly string[]): Promise<number> {
  return tables.length ? cache.invalidateTags([...new Set(tables.map(tableTag))]) : Promise.resolve(0)
}

/** Drops every cached query reading a table that `sql` writes. */
export function invalidateWrites(cache: Cache, sql: string): Promise<number> {
  return invalidateTables(cache, statementTables(sql).writes)
}

/** Options of the pg and Kysely adapters. */
export interface SqlCacheOptions {
  /** Where results are stored (RedisCache, TieredCache, MemoryCache). */
  cache: Cache
  /** TTL of cached reads. @default the cache's defaultTtl */
  ttl?: Duration
  /** Tags of every cached read (added to the table tags). @default [] */
  tags?: readonly string[]
  /** Cache every read (`true`), or only the ones marked per query. @default true */
  cacheReads?: boolean
}

/** Per-query settings: `false` runs uncached, an object overrides ttl and adds tags. */
export type QueryCacheSetting = false | { ttl?: Duration; tags?: readonly string[] }

const schema = z
  .object({
    cache: z.custom<Cache>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Cache).getOrSet === 'function',
      'must be a Cache (RedisCache, TieredCache or MemoryCache)',
    ),
    ttl: zDuration({ min: MIN_ENTRY_MS, max: MAX_ENTRY_MS }).optional(),
    tags: z.array(z.string().min(1)).default([]),
    cacheReads: z.boolean().default(true),
  })
  .strict()

/** Resolved adapter options. */
export type ResolvedSqlOptions = Readonly<z.output<typeof schema>>

/** Validates and defaults the adapter options once. */
export function resolveSqlOptions(options: SqlCacheOptions): ResolvedSqlOptions {
  return parseOptions(PKG, schema, options)
}

/**
 * The statement-level logic both adapters share: reads through the cache (unless in a transaction, which
 * may see its own uncommitted writes), writes run and invalidate the tables they touch — at once, or at
 * COMMIT inside a transaction (nothing on ROLLBACK).
 */
export class SqlSession {
  readonly #o: ResolvedSqlOptions
  #inTransaction = false
  #pending = new Set<string>()

  constructor(options: ResolvedSqlOptions) {
    this.#o = options
  }

  /** Runs one statement; `run` executes it on the database. */
  async execute<R>(
    sql: string,
    params: readonly unknown[],
    setting: QueryCacheSetting | undefined,
    run: () => Promise<R>,
  ): Promise<R> {
    const verb = /^\s*(\w+)(?:\s+(\w+))?/.exec(sql)
    const first = verb?.[1]?.toLowerCase()
    if (first === 'begin' || (first === 'start' && verb?.[2]?.toLowerCase() === 'transaction')) {
      const r = await run()
      this.begin()
      return r
    }
    if (first === 'commit' || first === 'end') {
      const r = await run()
      await this.commit()
      return r
    }
    if (first === 'rollback' && !/\bto\b/i.test(sql)) {
      const r = await run()
      this.rollback()
      return r
    }
    const tables = statementTables(sql)
    if (tables.write) {
      const r = await run()
      if (this.#inTransaction) for (const t of tables.writes) this.#pending.add(t)
      else await invalidateTables(this.#o.cache, tables.writes)
      return r
    }
    const cached = setting === undefined ? this.#o.cacheReads : setting !== false
    if (!cached || this.#inTransaction) return run()
    const s = setting || {}
    const ttl = s.ttl ?? this.#o.ttl
    return cachedQuery(this.#o.cache, sql, params, {
      run,
      ...(ttl !== undefined ? { ttl } : {}),
      tags: [...this.#o.tags, ...(s.tags ?? [])],
    })
  }

  /** A transaction started on this connection. */
  begin(): void {
    this.#inTransaction = true
    this.#pending.clear()
  }

  /** It committed: drop what its writes made stale. */
  async commit(): Promise<void> {
    const tables = [...this.#pending]
    this.#inTransaction = false
    this.#pending.clear()
    await invalidateTables(this.#o.cache, tables)
  }

  /** It rolled back: nothing changed. */
  rollback(): void {
    this.#inTransaction = false
    this.#pending.clear()
  }
}
