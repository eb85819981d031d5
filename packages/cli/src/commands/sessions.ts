import { type Connection, escapeGlob, hgetallRecord } from '@cache/client'
import type { Command } from '../command.js'
import { stringFlag } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { table } from '../output.js'
import { scanEveryMaster } from '../scan.js'

/** One tenant of `cache sessions`. */
export interface TenantSessions {
  tenant: string
  /** Sessions not yet expired (the live index, by the server's clock). */
  active: number
  /** Distinct users with a session created today (UTC; HyperLogLog, ≈1%). */
  usersToday: number
  created: number
  revoked: number
}

// @cache/session's layout (packages/session/src/keys.ts): `<ns>:t:<tenant>:{live}` zset handle -> expiry
// ms, `<ns>:t:<tenant>:{stats}` hash (created, revoked), `<ns>:t:<tenant>:{users}:<YYYY-MM-DD>` HyperLogLog.
/** Active sessions, users today, created and revoked of every tenant in the SessionManager namespace. */
export async function tenants(conn: Connection, namespace: string): Promise<TenantSessions[]> {
  const base = conn.keys.child(namespace, 't')
  const found: { tenant: string; live: string }[] = []
  for await (const b of scanEveryMaster(conn, {
    match: `${escapeGlob(base.prefix)}*:{live}`,
    count: 1000,
    rate: 0,
  }))
    for (const k of b.keys) found.push({ tenant: k.slice(base.prefix.length, -':{live}'.length), live: k })
  const [t] = await conn.send<[string, string]>(['TIME'])
  const now = Number(t) * 1000
  const day = new Date(now).toISOString().slice(0, 10)
  const out = await Promise.all(
    found.map(async ({ tenant, live }): Promise<TenantSessions> => {
      const tb = base.child(decodeURIComponent(tenant))
      const stats = tb.tagged('stats')
      const users = tb.tagged('users', day)
      const [active, counters, distinct] = await Promise.all([
        conn.send<number>(['ZCOUNT', live, String(now), '+inf'], { key: live }),
        conn.send(['HGETALL', stats], { key: stats }).then((r) => hgetallRecord<string>(r)),
        conn.send<number>(['PFCOUNT', users], { key: users }),
      ])
      return {
        tenant: decodeURIComponent(tenant),
        active: Number(active),
        usersToday: Number(distinct),
        created: Number(counters.created ?? 0),
        revoked: Number(counters.revoked ?? 0),
      }
    }),
  )
  return out.sort((a, b) => b.active - a.active)
}

export const sessionsCommand: Command = {
  name: 'sessions',
  summary: '@cache/session: active sessions and users per tenant, created and revoked',
  usage:
    'sessions [--sessions-namespace sess]\n\n  --sessions-namespace  the SessionStore namespace (new SessionStore(conn, { namespace })), default sess',
  flags: { 'sessions-namespace': { type: 'string' } },
  async run({ conn, values, out }) {
    const namespace = stringFlag(values, 'sessions-namespace', 'sess')!
    const list = await tenants(conn, namespace)
    out.result({ namespace, tenants: list }, () =>
      list.length === 0
        ? `no sessions in ${namespace}`
        : table([
            ['TENANT', 'ACTIVE', 'USERS TODAY', 'CREATED', 'REVOKED'],
            ...list.map((t) => [t.tenant, t.active, t.usersToday, t.created, t.revoked]),
          ]),
    )
    return EXIT.OK
  },
}
