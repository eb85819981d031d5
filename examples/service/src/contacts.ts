/**
 * Contacts, read through the tiered cache (L1 in process + L2 Redis) and the cached-query integration:
 * - a contact is one entry `contact:<tenant>:<id>`, tagged `tenant:<t>`;
 * - a list is the ids (a cachedQuery, tagged `table:<name>` by the integration and `tenant:<t>`) plus the
 *   contacts, stored as `list:<tenant>:<id>` which dependsOn every contact it shows: a PATCH invalidates
 *   the contact and, by the dependency, exactly the lists that show it, in every process's L1.
 * While Redis is down reads answer from L1 / grace with `cache: 'stale'`; writes answer 503.
 */
import { cachedQuery, invalidateWrites } from '@cache/integrations'
import type { Request, Router } from 'express'
import { z } from 'zod'
import { requireUser } from './auth.js'
import type { Contact, Family } from './family.js'
import { HttpError, parse } from './http.js'

/** How a read was answered. */
export type CacheOutcome = 'hit' | 'miss' | 'stale'

export const contactKey = (tenant: string, id: string) => `contact:${tenant}:${id}`
export const listKey = (tenant: string, list: string) => `list:${tenant}:${list}`
export const tenantTag = (tenant: string) => `tenant:${tenant}`

const COLUMNS = 'id, tenant, name, email, company, updated_at'
const idSchema = z.string().regex(/^[a-z0-9-]{1,64}$/)

interface ContactRow {
  id: string
  tenant: string
  name: string
  email: string
  company: string
  updated_at: Date | string
}

function toContact(r: ContactRow): Contact {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    email: r.email,
    company: r.company,
    updatedAt: new Date(r.updated_at).toISOString(),
  }
}

/** getOrSet that also tells how the read was answered: loaded ('miss'), cached ('hit'), or cached while Redis is down ('stale'). */
async function readThrough<T>(
  f: Family,
  key: string,
  load: () => Promise<T>,
  options: { tags: string[]; dependsOn?: string[] },
): Promise<{ value: T; cache: CacheOutcome }> {
  let loaded = false
  const value = (await f.cache.getOrSet(
    key,
    () => {
      loaded = true
      return load()
    },
    { ttl: '5m', ...options },
  )) as T
  return { value, cache: loaded ? 'miss' : f.status.up ? 'hit' : 'stale' }
}

function userOf(req: Request) {
  return req.user as NonNullable<Request['user']>
}

/** Reads one contact (null when the tenant has none of that id). */
export async function readContact(
  f: Family,
  tenant: string,
  id: string,
): Promise<{ contact: Contact | null; cache: CacheOutcome }> {
  const read = await readThrough(
    f,
    contactKey(tenant, id),
    async () => {
      const { rows } = await f.db.query<ContactRow>(
        `select ${COLUMNS} from contacts where tenant = $1 and id = $2`,
        [tenant, id],
      )
      return rows[0] ? toContact(rows[0]) : null
    },
    { tags: [tenantTag(tenant)] },
  )
  return { contact: read.value, cache: read.cache }
}

/** Reads a list of contacts (`all` = every contact of the tenant). */
export async function readList(
  f: Family,
  tenant: string,
  list: string,
): Promise<{ contacts: Contact[]; cache: CacheOutcome }> {
  const sql =
    list === 'all'
      ? 'select id from contacts where tenant = $1 order by id'
      : 'select m.contact_id as id from list_members m join lists l on l.id = m.list_id where l.tenant = $1 and m.list_id = $2 order by m.contact_id'
  const params = list === 'all' ? [tenant] : [tenant, list]
  const ids = await cachedQuery(f.cache, sql, params, {
    ttl: '5m',
    tags: [tenantTag(tenant)],
    run: async () => (await f.db.query<{ id: string }>(sql, params)).rows.map((r) => r.id),
  })
  const read = await readThrough(
    f,
    listKey(tenant, list),
    async () => {
      const { rows } = await f.db.query<ContactRow>(
        `select ${COLUMNS} from contacts where tenant = $1 and id = any($2) order by id`,
        [tenant, ids],
      )
      return rows.map(toContact)
    },
    { tags: [tenantTag(tenant), `list:${tenant}`], dependsOn: ids.map((id) => contactKey(tenant, id)) },
  )
  return { contacts: read.value, cache: read.cache }
}

const patchSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    email: z.string().email().max(200).optional(),
    company: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'give at least one of name, email, company')

const UPDATE_SQL = `update contacts set name = coalesce($3, name), email = coalesce($4, email),
  company = coalesce($5, company), updated_at = now() where tenant = $1 and id = $2 returning ${COLUMNS}`

/** Mounts /api/contacts. */
export function contactRoutes(f: Family, router: Router): void {
  router.get('/contacts', requireUser, async (req, res) => {
    const { list } = parse(z.object({ list: idSchema.optional() }), req.query)
    const result = await readList(f, userOf(req).tenant, list ?? 'all')
    res.set('x-cache', result.cache).json(result)
  })

  router.get('/contacts/:id', requireUser, async (req, res) => {
    const id = parse(idSchema, req.params.id)
    const result = await readContact(f, userOf(req).tenant, id)
    if (!result.contact) throw new HttpError(404, 'E_NOT_FOUND', `no contact ${id}`)
    res.set('x-cache', result.cache).json(result)
  })

  router.patch('/contacts/:id', requireUser, async (req, res) => {
    const id = parse(idSchema, req.params.id)
    const body = parse(patchSchema, req.body)
    const { tenant } = userOf(req)
    // Refuse before writing: a write whose invalidation cannot reach Redis would leave stale copies.
    if (!f.status.up)
      throw new HttpError(503, 'E_UNAVAILABLE', 'Redis is unreachable: writes are paused', 1000)
    const { rows } = await f.db.query<ContactRow>(UPDATE_SQL, [
      tenant,
      id,
      body.name ?? null,
      body.email ?? null,
      body.company ?? null,
    ])
    if (!rows[0]) throw new HttpError(404, 'E_NOT_FOUND', `no contact ${id}`)
    await f.cache.invalidate(contactKey(tenant, id)) // and, by dependsOn, every list showing it
    await invalidateWrites(f.cache, UPDATE_SQL)
    await f.realtime.contactUpdated(tenant, id)
    res.json({ contact: toContact(rows[0]) })
  })
}
