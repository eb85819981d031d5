import { HANDLE_PATTERN } from './defaults.js'
import type { SessionEngine } from './engine.js'
import type { SessionData } from './engine-types.js'
import { checkId, checkTenant, type ResolvedManager } from './options.js'

/**
 * Moving sessions in and out of Redis (SessionManager's `export` and `import`): JSON lines of our own
 * sessions, and connect-redis sessions migrated under their sid.
 */

/** Options of `SessionManager.import`. */
export interface ImportOptions {
  /** The tenant of migrated connect-redis sessions. @default 'default' */
  tenant?: string
  /** The user of a migrated session, for the per-user index. */
  userId?: (sess: SessionData) => string | undefined
}

/** The manager's timeouts a migrated session starts with. */
type Timeouts = Pick<ResolvedManager, 'idleTimeout' | 'absoluteTimeout'>

/** The live sessions of `tenant` as JSON lines (the handle, not the id), in batches of 100 reads. */
export async function* exportSessions(engine: SessionEngine, tenant: string): AsyncGenerator<string> {
  const live = engine.keys.live(tenant)
  const conn = engine.conn
  await conn.send(['ZREMRANGEBYSCORE', live, '-inf', String(Date.now())], { key: live })
  const handles = (await conn.send<string[]>(['ZRANGE', live, '0', '-1'], { key: live })).map(String)
  for (let i = 0; i < handles.length; i += 100) {
    const batch = await Promise.all(handles.slice(i, i + 100).map((h) => engine.read(tenant, h, false)))
    for (const s of batch) {
      if (!s) continue
      const { version: _, ...line } = s
      yield JSON.stringify({ v: 1, ...line })
    }
  }
}

/** Restores lines of `exportSessions`, or connect-redis sessions (see `SessionManager.import`); counts them. */
export async function importSessions(
  engine: SessionEngine,
  timeouts: Timeouts,
  lines: Iterable<string> | AsyncIterable<string>,
  options: ImportOptions,
): Promise<{ imported: number; skipped: number }> {
  let imported = 0
  let skipped = 0
  for await (const raw of lines) {
    const line = raw.trim()
    if (!line) continue
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(line) as Record<string, unknown>
    } catch {
      skipped++
      continue
    }
    const ok =
      parsed.v === 1
        ? await importOwn(engine, parsed)
        : await importConnectRedis(engine, timeouts, parsed, options)
    if (ok) imported++
    else skipped++
  }
  return { imported, skipped }
}

async function importOwn(engine: SessionEngine, p: Record<string, unknown>): Promise<boolean> {
  const tenant = checkTenant(p.tenant, 'line.tenant')
  const handle = String(p.handle)
  const userId = typeof p.userId === 'string' ? p.userId : ''
  const left = Number(p.absoluteExpiresAt) - Date.now()
  const idleMs = Math.min(Number(p.expiresAt) - Date.now(), Number(p.idleTimeoutMs))
  if (!(left > 0) || !(idleMs > 0) || !HANDLE_PATTERN.test(handle)) return false
  return restore(engine, tenant, handle, userId, engine.encode(p.data), Number(p.idleTimeoutMs), left)
}

async function importConnectRedis(
  engine: SessionEngine,
  timeouts: Timeouts,
  p: Record<string, unknown>,
  options: ImportOptions,
): Promise<boolean> {
  const tenant = checkTenant(options.tenant ?? 'default', 'tenant')
  const key = typeof p.key === 'string' ? p.key : undefined
  const sid = typeof p.sid === 'string' ? p.sid : key?.slice(key.indexOf(':') + 1)
  const value = p.sess ?? p.value
  if (!sid) return false
  let sess: SessionData
  try {
    sess = (typeof value === 'string' ? JSON.parse(value) : value) as SessionData
  } catch {
    return false
  }
  if (typeof sess !== 'object' || sess === null) return false
  const expires = (sess.cookie as { expires?: string } | undefined)?.expires
  const idleMs = expires ? new Date(expires).getTime() - Date.now() : timeouts.idleTimeout
  if (!(idleMs > 0)) return false
  const userId = options.userId?.(sess) ?? ''
  const handle = engine.hash(checkId(sid, 'sid'))
  return restore(engine, tenant, handle, userId, engine.encode(sess), idleMs, timeouts.absoluteTimeout)
}

/** Creates the session, or replaces the one already under `handle` (a line imported twice). */
async function restore(
  engine: SessionEngine,
  tenant: string,
  handle: string,
  userId: string,
  fields: Record<string, string>,
  idleMs: number,
  absoluteMs: number,
): Promise<boolean> {
  const made = await engine.create(tenant, handle, userId, idleMs, absoluteMs, {}, fields)
  if (made) return true
  // Already there (imported twice): replaced by the line.
  const loaded = await engine.load(tenant, handle)
  if (!loaded) return false
  const w = await engine.write(tenant, handle, loaded, {
    set: fields,
    del: [],
    replace: true,
    userId,
    idleMs,
  })
  if (w.status !== 1) return false
  if (userId !== '' && userId !== loaded.session.userId)
    await engine.indexAdd(tenant, handle, userId, loaded.session.absoluteExpiresAt, w.expiresAt, false, 0)
  return true
}
