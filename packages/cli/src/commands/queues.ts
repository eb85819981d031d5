import { type Connection, escapeGlob } from '@cache/client'
import type { QueueCounts } from '@cache/queue'
import type { Command } from '../command.js'
import { intFlag, stringFlag } from '../command.js'
import { UsageError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { table } from '../output.js'
import { confirm } from '../prompt.js'
import { scanEveryMaster } from '../scan.js'

type QueueModule = typeof import('@cache/queue')
type TypedQueue = ReturnType<QueueModule['defineQueue']>

/** One queue of `cache queues`: its name and @cache/queue's counts per state. */
export interface QueueState extends QueueCounts {
  name: string
}

const DLQ_SUFFIX = '-dlq'

async function load(): Promise<QueueModule> {
  try {
    return await import('@cache/queue')
  } catch {
    throw new UsageError(
      'queues',
      'needs @cache/queue (and its peers bullmq, ioredis) installed next to @cache/cli',
    )
  }
}

/** Queue names with a BullMQ meta key under the namespace (`<ns>:queue[:{name}]:<name>:meta`). */
async function queueNames(conn: Connection, namespace: string, rate: number): Promise<string[]> {
  const names = new Set<string>()
  const match = `${escapeGlob(conn.keys.child(namespace).prefix)}*:meta`
  for await (const b of scanEveryMaster(conn, { match, count: 1000, rate })) {
    for (const k of b.keys) {
      const name = k.slice(0, -':meta'.length).split(':').pop()!
      if (!name.endsWith(DLQ_SUFFIX)) names.add(name)
    }
  }
  return [...names].sort()
}

/** Runs `fn` with a schema-less @cache/queue handle on `name` (loaded on demand), closed after. */
export async function withQueue<T>(
  conn: Connection,
  namespace: string,
  name: string,
  fn: (q: TypedQueue) => Promise<T>,
): Promise<T> {
  const { defineQueue } = await load()
  // No job schemas: the CLI only reads counts and moves dead letters, it never validates payloads.
  const q = defineQueue(conn, name, { namespace, jobs: {} })
  try {
    return await fn(q)
  } finally {
    await q.close()
  }
}

/** Every queue of the namespace (found by SCAN on every master) with its counts per state. */
export async function list(conn: Connection, namespace: string, rate = 0): Promise<QueueState[]> {
  const names = await queueNames(conn, namespace, rate)
  const out: QueueState[] = []
  for (const name of names)
    out.push(await withQueue(conn, namespace, name, async (q) => ({ name, ...(await q.stats()).counts })))
  return out
}

export const queuesCommand: Command = {
  name: 'queues',
  summary: '@cache/queue: jobs per state of every queue; dlq list / replay',
  usage:
    'queues [--queues-namespace queue] [--rate N]\n' +
    'queues dlq list <queue> [--limit 20]\n' +
    'queues dlq replay <queue> (--id ID… | --all) [--yes]\n\n' +
    "  --queues-namespace  the queues' namespace (defineQueue(conn, name, { namespace })), default queue\n" +
    '  --rate              keys examined per second by the SCAN that finds the queues (default: unthrottled)\n' +
    "  list prints each dead letter's id, job name, error code and reason, never its data\n" +
    '  replay puts dead letters back on their queue (deduplicated: a second replay enqueues nothing); asks first',
  flags: {
    'queues-namespace': { type: 'string' },
    limit: { type: 'string' },
    rate: { type: 'string' },
    id: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  },
  async run({ conn, values, positionals, out, io }) {
    const namespace = stringFlag(values, 'queues-namespace', 'queue')!
    const [sub, action, name] = positionals
    if (sub === undefined) {
      const queues = await list(conn, namespace, intFlag(values, 'rate', 0))
      out.result({ namespace, queues }, () =>
        queues.length === 0
          ? `no queues in ${namespace}`
          : table([
              ['QUEUE', 'WAITING', 'ACTIVE', 'DELAYED', 'PRIORITIZED', 'COMPLETED', 'FAILED', 'DEAD LETTERS'],
              ...queues.map((q) => [
                q.name,
                q.waiting,
                q.active,
                q.delayed,
                q.prioritized,
                q.completed,
                q.failed,
                q.deadLetter > 0 ? out.style('red', String(q.deadLetter)) : 0,
              ]),
            ]),
      )
      return queues.some((q) => q.deadLetter > 0) ? EXIT.PROBLEM : EXIT.OK
    }
    if (sub !== 'dlq' || (action !== 'list' && action !== 'replay'))
      throw new UsageError(
        'queues',
        `expects "dlq list <queue>" or "dlq replay <queue>", got ${JSON.stringify(positionals.join(' '))}`,
      )
    if (!name) throw new UsageError('<queue>', 'is missing')
    if (action === 'list') {
      const limit = intFlag(values, 'limit', 20, { min: 1, max: 10_000 })
      const letters = await withQueue(conn, namespace, name, (q) => q.deadLetters.list({ limit }))
      const rows = letters.map((d) => ({
        id: d.id,
        name: d.name,
        sourceId: d.sourceId,
        code: d.code ?? null,
        reason: d.reason,
        attempts: d.attempts.length,
        deadAt: new Date(d.deadAt).toISOString(),
      }))
      out.result({ queue: name, deadLetters: rows }, () =>
        rows.length === 0
          ? `no dead letters in ${name}`
          : table([
              ['ID', 'JOB', 'CODE', 'ATTEMPTS', 'DEAD AT', 'REASON'],
              ...rows.map((d) => [d.id, d.name, d.code ?? '-', d.attempts, d.deadAt, d.reason]),
            ]),
      )
      return rows.length > 0 ? EXIT.PROBLEM : EXIT.OK
    }
    const ids = (values.id as string[] | undefined) ?? []
    if (ids.length === 0 && values.all !== true) throw new UsageError('--id', 'or --all is required')
    return withQueue(conn, namespace, name, async (q) => {
      const count = ids.length > 0 ? ids.length : await q.deadLetters.count()
      const ok = values.yes === true || (await confirm(io, `Replay ${count} dead letters of ${name}?`))
      const result = ok
        ? await q.deadLetters.replay(ids.length > 0 ? { ids } : { all: true })
        : { replayed: 0, skipped: 0, ids: [] }
      out.result({ queue: name, confirmed: ok, ...result }, () =>
        ok ? `replayed ${result.replayed}, skipped ${result.skipped}` : 'not confirmed: nothing replayed',
      )
      return ok ? EXIT.OK : EXIT.PROBLEM
    })
  },
}
