import { type Connection, InvalidOptionError } from '@cache/client'
import { SessionManager } from '@cache/session'
import type { Command } from '../command.js'
import { stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { table } from '../output.js'

/** One tenant of `cache sessions`: @cache/session's SessionStats of that tenant. */
export interface TenantSessions {
  tenant: string
  /** Sessions not expired. */
  activeSessions: number
  /** Distinct users with a session created today or yesterday (UTC; HyperLogLog, ±0.81%). */
  activeUsers: number
  /** Sessions created since the counters began. */
  creations: number
  /** Sessions destroyed or revoked. */
  revocations: number
}

/**
 * Every tenant's stats in a SessionManager namespace, through @cache/session itself (tenants(), stats()):
 * no key layout is known here and no session id is read.
 */
export async function tenants(conn: Connection, namespace: string): Promise<TenantSessions[]> {
  let sessions: SessionManager
  try {
    // Only tenants() and stats() are called: no hash key or keyring is needed, the periodic sweep stays off.
    sessions = new SessionManager(conn, { namespace, sweepInterval: false })
  } catch (err) {
    if (err instanceof InvalidOptionError) throw new UsageError('--sessions-namespace', err.message)
    throw err
  }
  try {
    const names = await sessions.tenants()
    const out = await Promise.all(
      names.map(async (tenant) => ({ tenant, ...(await sessions.stats(tenant)) })),
    )
    return out.sort((a, b) => b.activeSessions - a.activeSessions || a.tenant.localeCompare(b.tenant))
  } finally {
    await sessions.close()
  }
}

export const sessionsCommand: Command = {
  name: 'sessions',
  summary: '@cache/session: active sessions and users per tenant, created and revoked',
  usage:
    'sessions [--sessions-namespace sess]\n\n  --sessions-namespace  the SessionManager namespace (new SessionManager(conn, { namespace })), default sess',
  flags: { 'sessions-namespace': { type: 'string' } },
  async run({ conn, values, out }) {
    const namespace = stringFlag(values, 'sessions-namespace', 'sess')!
    const list = await tenants(conn, namespace)
    out.result({ namespace, tenants: list }, () =>
      list.length === 0
        ? `no sessions in ${namespace}`
        : table([
            ['TENANT', 'ACTIVE', 'ACTIVE USERS', 'CREATED', 'REVOKED'],
            ...list.map((t) => [t.tenant, t.activeSessions, t.activeUsers, t.creations, t.revocations]),
          ]),
    )
    return EXIT.OK
  },
}
