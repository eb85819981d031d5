import { createInterface } from 'node:readline/promises'
import type { CliIo } from './output.js'

/**
 * Asks a yes/no question on stderr and reads the answer from stdin; anything but y/yes (or stdin closing
 * without an answer, as with </dev/null in a script) is a no.
 */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: !!io.stdin.isTTY })
  try {
    const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')))
    const answer = await Promise.race([rl.question(`${question} [y/N] `), closed])
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}
