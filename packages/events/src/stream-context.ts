import type { Connection, ScriptFn } from '@cache/client'
import type { z } from 'zod'

/** Everything `consume()` needs from its stream. @internal */
export interface StreamContext {
  conn: Connection
  name: string
  key: string
  deadKey: string
  schema: z.ZodType | undefined
  deadLetterMaxLen: number
  claimScript: ScriptFn<unknown>
  deadLetterScript: ScriptFn<number>
}
