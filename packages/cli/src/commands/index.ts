import type { Command } from '../command.js'
import { healthCommand } from './health.js'
import { inspectCommand } from './inspect.js'
import { invalidateCommand } from './invalidate.js'
import { keysCommand } from './keys.js'

/** Every command, in the order `cache --help` lists them. */
export const COMMANDS: readonly Command[] = [healthCommand, keysCommand, inspectCommand, invalidateCommand]
