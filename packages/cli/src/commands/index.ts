import type { Command } from '../command.js'
import { healthCommand } from './health.js'

/** Every command, in the order `cache --help` lists them. */
export const COMMANDS: readonly Command[] = [healthCommand]
