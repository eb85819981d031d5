import { CacheError } from '@cache/client'

/** Error codes of @cache/events (besides @cache/client's E_INVALID_OPTION, E_CLOSED, E_UNAVAILABLE…). */
export type EventsErrorCode = 'E_INVALID_PAYLOAD' | 'E_UNSUPPORTED' | 'E_HANDLER' | 'E_NOT_FOUND'

declare module '@cache/client' {
  /** Registers this package's codes in the family's code registry (see CacheErrorCodes in @cache/client). */
  interface CacheErrorCodes extends Record<EventsErrorCode, true> {}
}

/** A message failed its channel's or stream's schema, or is not a valid envelope. `issues` says why. */
export class InvalidPayloadError extends CacheError {
  /** The channel or stream the message was meant for. */
  readonly target: string
  /** What is wrong, one line per problem (paths and reasons; never the payload itself). */
  readonly issues: readonly string[]

  constructor(target: string, issues: readonly string[], cause?: unknown) {
    super('E_INVALID_PAYLOAD', `[@cache/events] invalid payload for "${target}": ${issues.join('; ')}`, {
      cause,
      details: { target, issues },
    })
    this.target = target
    this.issues = Object.freeze([...issues])
  }
}

/** A pub/sub handler threw something that is not a CacheError (emitted as `error`, `cause` is what it threw). */
export class HandlerError extends CacheError {
  /** The channel whose handler failed. */
  readonly channel: string
  constructor(channel: string, cause: unknown) {
    super('E_HANDLER', `[@cache/events] handler for "${channel}" failed`, { cause, details: { channel } })
    this.channel = channel
  }
}

/** The thing named by an argument is not known here (e.g. a connection id that did not `join()`). */
export class NotFoundError extends CacheError {
  /** The argument naming it. */
  readonly field: string
  constructor(field: string, message: string) {
    super('E_NOT_FOUND', `[@cache/events] ${message}`, { details: { field } })
    this.field = field
  }
}
