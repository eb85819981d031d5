/**
 * The service's SQL database: PGlite (embedded Postgres, in memory or in a data directory) by default, a real
 * Postgres through `pg` when a URL is given. Both answer `query(sql, params) -> { rows }`. PGlite is also
 * served over the Postgres wire protocol (pglite-socket) so a worker in another process shares it.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '@cache/tools'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import pg from 'pg'
import { hashPassword } from './passwords.js'

/** What the service needs of a database. */
export interface Db {
  query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>
  /** A `postgres://` URL another process can use (pglite-socket for PGlite). */
  readonly url: string
  readonly kind: 'pglite' | 'postgres'
  close(): Promise<void>
}

const SCHEMA = `
create table if not exists tenants (id text primary key, name text not null);
create table if not exists users (
  id text primary key, tenant text not null references tenants(id), email text not null,
  name text not null, password_hash text not null, unique (tenant, email));
create table if not exists contacts (
  id text primary key, tenant text not null references tenants(id), name text not null,
  email text not null, company text not null, updated_at timestamptz not null default now());
create table if not exists lists (id text primary key, tenant text not null references tenants(id), name text not null);
create table if not exists list_members (list_id text not null references lists(id), contact_id text not null references contacts(id), primary key (list_id, contact_id));
create table if not exists invoice_counter (tenant text primary key, last_number integer not null, last_token bigint not null);
create table if not exists invoices (
  number integer not null, tenant text not null, contact_id text not null, amount integer not null,
  fencing_token bigint not null, created_at timestamptz not null default now(), paid boolean not null default false,
  primary key (tenant, number));
create table if not exists job_runs (job_id text not null, kind text not null, attempt integer not null, at timestamptz not null default now());
create table if not exists jobs_done (job_id text primary key, kind text not null, at timestamptz not null default now());
`

const COMPANIES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell']

/** Creates the schema and, on an empty database, the seed: tenants t1/t2, three users, 40 contacts each, 3 lists. */
export async function migrate(db: Pick<Db, 'query'>): Promise<void> {
  for (const statement of SCHEMA.split(';').map((s) => s.trim())) if (statement) await db.query(statement)
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from tenants')
  if ((rows[0]?.n ?? 0) > 0) return
  const hash = await hashPassword('password')
  for (const [tenant, name] of [
    ['t1', 'Tenant One'],
    ['t2', 'Tenant Two'],
  ] as const) {
    await db.query('insert into tenants (id, name) values ($1, $2)', [tenant, name])
    await db.query('insert into invoice_counter (tenant, last_number, last_token) values ($1, 0, 0)', [
      tenant,
    ])
    for (let i = 1; i <= 40; i++) {
      const id = `${tenant}-c${i}`
      await db.query('insert into contacts (id, tenant, name, email, company) values ($1, $2, $3, $4, $5)', [
        id,
        tenant,
        `Contact ${i} of ${tenant}`,
        `contact${i}@${tenant}.example`,
        COMPANIES[i % COMPANIES.length],
      ])
    }
    for (let l = 1; l <= 3; l++) {
      const list = `${tenant}-l${l}`
      await db.query('insert into lists (id, tenant, name) values ($1, $2, $3)', [list, tenant, `List ${l}`])
      // list 1: contacts 1-10, list 2: the even ones, list 3: 5-25
      for (let i = 1; i <= 40; i++) {
        const member = l === 1 ? i <= 10 : l === 2 ? i % 2 === 0 : i >= 5 && i <= 25
        if (member)
          await db.query('insert into list_members (list_id, contact_id) values ($1, $2)', [
            list,
            `${tenant}-c${i}`,
          ])
      }
    }
  }
  const users = [
    ['t1-alice', 't1', 'alice@t1.test', 'Alice'],
    ['t1-bob', 't1', 'bob@t1.test', 'Bob'],
    ['t2-carol', 't2', 'carol@t2.test', 'Carol'],
  ]
  for (const [id, tenant, email, name] of users) {
    await db.query('insert into users (id, tenant, email, name, password_hash) values ($1, $2, $3, $4, $5)', [
      id,
      tenant,
      email,
      name,
      hash,
    ])
  }
}

/** Connects to Postgres (`url`) through a pg Pool. */
export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 })
  pool.on('error', () => {}) // an idle client's socket error: the next query reports it
  await pool.query('select 1')
  let closed: Promise<void> | undefined
  return {
    kind: 'postgres',
    url,
    query: (sql, params) => pool.query(sql, params as unknown[]) as never,
    close: () => (closed ??= pool.end()),
  }
}

const SEED_VERSION = createHash('sha256').update(SCHEMA).update(migrate.toString()).digest('hex').slice(0, 12)
const SEED_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'node_modules',
  '.cache',
  `pglite-seed-${SEED_VERSION}.tar.gz`,
)

/**
 * An in-memory PGlite with the schema and seed. initdb is slow (seconds, tens of seconds on a loaded
 * machine), so the first start dumps the seeded data directory to node_modules/.cache and later starts
 * load that dump instead.
 */
async function seededMemoryPglite(): Promise<PGlite> {
  try {
    return await PGlite.create({ loadDataDir: new Blob([readFileSync(SEED_FILE)]) })
  } catch {}
  const db = await PGlite.create()
  await migrate(db)
  try {
    const dump = await db.dumpDataDir('gzip')
    mkdirSync(dirname(SEED_FILE), { recursive: true })
    const tmp = `${SEED_FILE}.${process.pid}`
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
    renameSync(tmp, SEED_FILE)
  } catch {} // a read-only checkout: every start runs initdb
  return db
}

/** Opens PGlite (in memory unless `dataDir`) and serves it on a free loopback port for other processes. */
export async function openPglite(dataDir?: string): Promise<Db> {
  const db = dataDir ? await PGlite.create({ dataDir }) : await seededMemoryPglite()
  const port = await freePort()
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 20 })
  await server.start()
  let closed: Promise<void> | undefined
  return {
    kind: 'pglite',
    url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    query: (sql, params) => db.query(sql, params) as never,
    close: () =>
      (closed ??= (async () => {
        await server.stop()
        await db.close()
      })()),
  }
}

/** PGlite by default, Postgres when `url` is set; the schema and seed are applied either way. */
export async function openDb(options: {
  url?: string | undefined
  dataDir?: string | undefined
}): Promise<Db> {
  const db = options.url ? await openPostgres(options.url) : await openPglite(options.dataDir)
  try {
    await migrate(db)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}
