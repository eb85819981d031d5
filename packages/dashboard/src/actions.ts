import { withQueue } from '@cache/cli'
import { InvalidArgumentError } from '@cache/client'
import { z } from 'zod'
import type { ResolvedDashboardOptions } from './options.js'

const PKG = '@cache/dashboard'

const name = z.string().min(1).max(256)

/** The mutating actions: their request bodies, checked with zod before anything runs. */
export const ACTIONS = {
  'dlq-replay': z.strictObject({
    queue: name,
    ids: z.array(name).min(1).max(1000).optional(),
    all: z.literal(true).optional(),
  }),
  'invalidate-tag': z.strictObject({ cache: name, tag: name }),
  'revoke-user': z.strictObject({ tenant: name, user: name }),
} as const

/** The name of one mutating action. */
export type ActionName = keyof typeof ACTIONS

/** What an action did (returned as JSON to the page). */
export type ActionResult = Record<string, unknown>

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body)
  if (r.success) return r.data
  const issue = r.error.issues[0]!
  throw new InvalidArgumentError(PKG, issue.path.join('.') || 'body', issue.message)
}

/** Runs one action and writes it to the audit log (ok or error; never the values it touched). */
export async function runAction(
  o: ResolvedDashboardOptions,
  action: ActionName,
  body: unknown,
): Promise<ActionResult> {
  const audit = async (
    outcome: 'ok' | 'error',
    subject: string | undefined,
    details: Record<string, unknown>,
  ) =>
    o.audit?.record({
      actor: o.actor,
      action: `dashboard.${action}`,
      outcome,
      details,
      ...(subject === undefined ? {} : { subject }),
    })
  let subject: string | undefined
  let details: Record<string, unknown> = {}
  try {
    let result: ActionResult
    if (action === 'dlq-replay') {
      const b = parse(ACTIONS['dlq-replay'], body)
      if ((b.ids === undefined) === (b.all === undefined))
        throw new InvalidArgumentError(PKG, 'ids', 'give either ids or all: true')
      details = { queue: b.queue, ...(b.ids ? { ids: b.ids } : { all: true }) }
      const replay = await withQueue(o.conn, o.namespaces.queues, b.queue, (q) =>
        q.deadLetters.replay(b.ids ? { ids: b.ids } : { all: true }),
      )
      details = { ...details, replayed: replay.replayed, skipped: replay.skipped }
      result = { ...replay }
    } else if (action === 'invalidate-tag') {
      const b = parse(ACTIONS['invalidate-tag'], body)
      details = { cache: b.cache, tag: b.tag }
      const cache = Object.hasOwn(o.caches, b.cache) ? o.caches[b.cache] : undefined
      if (!cache)
        throw new InvalidArgumentError(
          PKG,
          'cache',
          `is not one of the dashboard's caches (${Object.keys(o.caches).join(', ') || 'none configured'})`,
        )
      const removed = await cache.invalidateTags([b.tag])
      details.removed = removed
      result = { removed }
    } else {
      const b = parse(ACTIONS['revoke-user'], body)
      subject = b.user
      details = { tenant: b.tenant }
      if (!o.sessions)
        throw new InvalidArgumentError(
          PKG,
          'sessions',
          'no session manager was given to dashboard({ sessions })',
        )
      const revoked = await o.sessions.revokeUser(b.tenant, b.user)
      details.revoked = revoked
      result = { revoked }
    }
    await audit('ok', subject, details)
    return result
  } catch (err) {
    await audit('error', subject, { ...details, code: (err as { code?: string }).code ?? 'E_UNKNOWN' }).catch(
      () => {},
    )
    throw err
  }
}
