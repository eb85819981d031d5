import { ErrorReply } from '@redis/client'
import { CacheError, isCacheError, UnavailableError } from './errors.js'
import { TAG } from './pkg.js'

/** Server replies that mean "not ready / unavailable right now" rather than a bad command. */
const CONNECTIVITY_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|READONLY|BUSY |NOREPLICAS)/

/** A failed connection attempt: a missed connect deadline is "server unavailable", like any other failure. */
export function connectFailure(err: unknown, what: string): CacheError {
  if (isCacheError(err, 'E_TIMEOUT')) return new UnavailableError(err.message, { cause: err })
  return toCacheError(err, what)
}

/**
 * An EVALSHA the server does not know the script of (after a restart, failover or SCRIPT FLUSH): the script
 * registry's cue to send EVAL, not a failure of the caller's command.
 */
export function isNoScript(err: unknown): boolean {
  if (!isCacheError(err, 'E_COMMAND')) return false
  const cause = err.cause
  return cause instanceof Error && cause.message.startsWith('NOSCRIPT')
}

/** Maps anything a command can throw to a CacheError with a stable code. */
export function toCacheError(err: unknown, command: string): CacheError {
  if (isCacheError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof ErrorReply) {
    if (CONNECTIVITY_REPLY.test(message)) {
      return new CacheError(
        'E_UNAVAILABLE',
        `${TAG} ${command}: server not ready (${message.split(' ')[0]})`,
        { cause: err },
      )
    }
    return new CacheError('E_COMMAND', `${TAG} ${command} failed: ${message}`, { cause: err })
  }
  const name = err instanceof Error ? err.constructor.name : ''
  if (name === 'ClientClosedError')
    return new CacheError('E_CLOSED', `${TAG} ${command}: the connection is closed`, { cause: err })
  if (name === 'TimeoutError')
    return new CacheError('E_TIMEOUT', `${TAG} ${command} timed out before it was sent`, { cause: err })
  return new CacheError('E_UNAVAILABLE', `${TAG} ${command}: server unavailable (${message})`, { cause: err })
}
