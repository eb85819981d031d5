import type { Command } from '../command.js'
import { aclCommand } from './acl.js'
import { benchCommand } from './bench.js'
import { bigkeysCommand } from './bigkeys.js'
import { healthCommand } from './health.js'
import { inspectCommand } from './inspect.js'
import { invalidateCommand } from './invalidate.js'
import { keysCommand } from './keys.js'
import { limitsCommand } from './limits.js'
import { locksCommand } from './locks.js'
import { queuesCommand } from './queues.js'
import { sessionsCommand } from './sessions.js'
import { statsCommand } from './stats.js'

/** Every command, in the order `cache --help` lists them. */
export const COMMANDS: readonly Command[] = [
  healthCommand,
  statsCommand,
  keysCommand,
  inspectCommand,
  invalidateCommand,
  bigkeysCommand,
  locksCommand,
  limitsCommand,
  queuesCommand,
  sessionsCommand,
  aclCommand,
  benchCommand,
]
