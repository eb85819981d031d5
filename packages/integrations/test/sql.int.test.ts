import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { codeOf, uniquePrefix } from '@cache/tools'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cachedQuery, invalidateWrites } from '../src/index.js'
import { cached, cachedDialect } from '../src/kysely.js'
import { cachePg } from '../src/pg.js'
import { type Postgres, startPostgres } from './fixtures/postgres.js'

const { standalone, cluster } = inject('redis')

let postgres: Postgres
let pool: pg.Pool
let conn: Connection
let statements: string[] = []

beforeAll(async () => {
  postgres = await startPostgres()
  pool = new pg.Pool({ connectionString: postgres.url, max: 1 })
  // count what reaches the database, whichever way (pool.query, pool.connect + client.query)
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>
    ;(client as unknown as { query: unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text: string }
      statements.push(typeof first === 'string' ? first : first.text)
      return query(...args)
    }
  })
  await pool.query('create table if not exists users (id int primary key, name text, org int)')
  await pool.query('create table if not exists orgs (id int primary key, title text)')
  await pool.query("insert into orgs values (1, 'acme'), (2, 'globex') on conflict do nothing")
  await pool.query(
    "insert into users values (1, 'ada', 1), (2, 'bob', 1), (3, 'cy', 2) on conflict do nothing",
  )
  conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-sql') })
}, 120_000)
afterAll(async () => {
  await pool?.end()
  await postgres?.stop()
  await conn?.close()
})

describe('cachedQuery', () => {
  it('caches a read by text and parameters, tagged by its tables; a write through invalidateWrites drops it', async () => {
    const cache = new RedisCache(conn, { namespace: 'sql-fn' })
    let runs = 0
    const byOrg = (org: number) =>
      cachedQuery(cache, 'select name from users where org = $1 order by id', [org], {
        ttl: '1m',
        run: async () => {
          runs++
          return (await pool.query('select name from users where org = $1 order by id', [org])).rows
        },
      })
    expect(await byOrg(1)).toEqual([{ name: 'ada' }, { name: 'bob' }])
    expect(await byOrg(1)).toEqual([{ name: 'ada' }, { name: 'bob' }])
    expect(await byOrg(2)).toEqual([{ name: 'cy' }])
    expect(runs).toBe(2)
    expect(await invalidateWrites(cache, "update users set name = 'x' where id = 99")).toBe(2)
    await byOrg(1)
    expect(runs).toBe(3)
    expect(await codeOf(cachedQuery(cache, 'select 1', [], {} as never))).toBe('E_INVALID_OPTION')
    await cache.close()
  })
})

describe('cachePg over the real pg driver', () => {
  it('answers reads from the cache and invalidates the tables a write touches', async () => {
    const cache = new RedisCache(conn, { namespace: 'sql-pg' })
    const db = cachePg(pool, { cache, ttl: '1m' })
    statements = []
    const q = 'select u.name, o.title from users u join orgs o on o.id = u.org where u.id = $1'
    const first = await db.query(q, [1])
    expect(first.rows).toEqual([{ name: 'ada', title: 'acme' }])
    expect(first.fields.map((f) => f.name)).toEqual(['name', 'title'])
    expect((await db.query(q, [1])).rows).toEqual(first.rows)
    expect((await db.query({ text: q, values: [1] })).rowCount).toBe(1)
    expect(statements.filter((s) => s === q)).toHaveLength(1)
    // a write to orgs (joined) drops the read
    await db.query('update orgs set title = $1 where id = $2', ['ACME', 1])
    expect((await db.query(q, [1])).rows).toEqual([{ name: 'ada', title: 'ACME' }])
    expect(statements.filter((s) => s === q)).toHaveLength(2)
    // per-query opt-out, and a write to an unrelated table keeps it
    await db.query({ text: q, values: [1], cache: false } as never)
    expect(statements.filter((s) => s === q)).toHaveLength(3)
    await db.query('create table if not exists other (id int)')
    await db.query('insert into other values (1)')
    await db.query(q, [1])
    expect(statements.filter((s) => s === q)).toHaveLength(3)
    await cache.close()
  })

  it('in a transaction: reads are not cached, invalidation waits for COMMIT, ROLLBACK drops nothing', async () => {
    const cache = new RedisCache(conn, { namespace: 'sql-tx' })
    const db = cachePg(pool, { cache })
    const q = 'select name from users where id = $1'
    await db.query(q, [2])
    const client = await db.connect()
    try {
      await client.query('BEGIN')
      await client.query('update users set name = $1 where id = $2', ['bobby', 2])
      expect((await client.query(q, [2])).rows).toEqual([{ name: 'bobby' }]) // its own write, uncached
      expect((await db.query(q, [2])).rows).toEqual([{ name: 'bob' }].map((r) => r)) // others: cached, committed
      await client.query('ROLLBACK')
      expect((await db.query(q, [2])).rows).toEqual([{ name: 'bob' }])
      await client.query('BEGIN')
      await client.query('update users set name = $1 where id = $2', ['bobby', 2])
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    expect((await db.query(q, [2])).rows).toEqual([{ name: 'bobby' }])
    await cache.close()
  })
})

describe('Kysely through cachedDialect (PostgresDialect over pg)', () => {
  interface DB {
    users: { id: number; name: string; org: number }
    orgs: { id: number; title: string }
  }
  it('caches builder reads, honours cached(false) / cached({ ttl, tags }), invalidates on writes and at commit', async () => {
    const cconn = await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('int-sql') })
    const cache = new RedisCache(cconn, { namespace: 'sql-kysely' })
    const db = new Kysely<DB>({ dialect: cachedDialect(new PostgresDialect({ pool }), { cache, ttl: '1m' }) })
    statements = []
    const read = () => db.selectFrom('users').select(['name']).where('org', '=', 2).orderBy('id').execute()
    const sql = 'select "name" from "users" where "org" = $1 order by "id"'
    expect(await read()).toEqual([{ name: 'cy' }])
    expect(await read()).toEqual([{ name: 'cy' }])
    expect(statements.filter((s) => s === sql)).toHaveLength(1)
    await db
      .selectFrom('users')
      .select(['name'])
      .where('org', '=', 2)
      .orderBy('id')
      .withPlugin(cached(false))
      .execute()
    expect(statements.filter((s) => s === sql)).toHaveLength(2)
    await db.updateTable('users').set({ name: 'cyd' }).where('id', '=', 3).execute()
    expect(await read()).toEqual([{ name: 'cyd' }])
    expect(statements.filter((s) => s === sql)).toHaveLength(3)
    // tags of one query
    await db
      .selectFrom('orgs')
      .selectAll()
      .withPlugin(cached({ tags: ['orgs-page'] }))
      .execute()
    expect(await cache.invalidateTags(['orgs-page'])).toBe(1)
    // a transaction invalidates at commit
    await read()
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('users').values({ id: 4, name: 'dee', org: 2 }).execute()
      expect(
        await tx.selectFrom('users').select(['name']).where('org', '=', 2).orderBy('id').execute(),
      ).toHaveLength(2)
    })
    expect(await read()).toEqual([{ name: 'cyd' }, { name: 'dee' }])
    await cache.close()
    await cconn.close()
  })
})
