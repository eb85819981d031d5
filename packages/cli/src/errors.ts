import { CacheError } from '@cache/client'

/** Codes @cache/cli adds to the family (it also reports the connection's codes). */
export type CliErrorCode = 'E_USAGE'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<CliErrorCode, true> {}
}

/** A bad command line: unknown command or flag, missing or malformed value (exit code 2); `field` names it. */
export class UsageError extends CacheError {
  /** The flag or argument at fault (`--count`, `<key>`, `command`). */
  readonly field: string
  constructor(field: string, reason: string) {
    super('E_USAGE', `[@cache/cli] ${field} ${reason}`, { details: { field } })
    this.field = field
  }
}
