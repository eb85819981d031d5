import type { Connection } from '@cache/client'
import type { KeepJobs } from 'bullmq'
import { warningChannel } from './diagnostics.js'

/** A start-up warning: its code says what to fix. */
export interface QueueWarning {
  code: 'maxmemory-policy' | 'config-refused' | 'unbounded-retention'
  message: string
}

function unbounded(r: boolean | KeepJobs): boolean {
  return r === false
}

/**
 * Checks what makes BullMQ lose jobs or memory: an eviction policy other than `noeviction` on any master,
 * and unbounded `removeOnComplete`/`removeOnFail`. Each warning is published on `cache:queue:warning`
 * and logged. A CONFIG GET refused by an ACL is itself a warning (the policy could not be checked).
 */
export async function startupChecks(
  conn: Connection,
  queue: string,
  retention: { removeOnComplete: boolean | KeepJobs; removeOnFail: boolean | KeepJobs },
  logger: { warn(message: string): void },
): Promise<QueueWarning[]> {
  const out: QueueWarning[] = []
  for (const node of await conn.masters().catch(() => [])) {
    try {
      const reply = await node.send<string[] | Record<string, string>>(['CONFIG', 'GET', 'maxmemory-policy'])
      const policy = Array.isArray(reply) ? reply[1] : reply['maxmemory-policy']
      if (policy !== undefined && policy !== 'noeviction') {
        out.push({
          code: 'maxmemory-policy',
          message: `maxmemory-policy is "${policy}" on ${node.address}: Redis may evict job keys; set it to noeviction`,
        })
      }
    } catch (err) {
      out.push({
        code: 'config-refused',
        message: `CONFIG GET maxmemory-policy was refused on ${node.address} (${(err as Error).message}): the eviction policy could not be checked; make sure it is noeviction`,
      })
    }
  }
  for (const field of ['removeOnComplete', 'removeOnFail'] as const) {
    if (unbounded(retention[field])) {
      out.push({
        code: 'unbounded-retention',
        message: `${field} keeps every job: memory grows without bound; give it an age or a count`,
      })
    }
  }
  for (const w of out) {
    warningChannel.publish({ queue, ...w })
    logger.warn(`[@cache/queue] queue "${queue}": ${w.message}`)
  }
  return out
}
