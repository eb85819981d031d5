import { CacheError, isCacheError } from './errors.js'
import { TAG } from './pkg.js'

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/

/**
 * The error to stop with when a connection attempt failed for a reason retrying cannot fix: E_AUTH for
 * rejected credentials, E_TLS for a failed TLS handshake. Undefined for everything else.
 */
export function fatalConnectError(cause: unknown): CacheError | undefined {
  if (isCacheError(cause, 'E_AUTH') || isCacheError(cause, 'E_TLS')) return cause
  // node-redis may re-throw our own fatal error as a new Error with the same message.
  const message = (cause instanceof Error ? cause.message : String(cause)).replace(
    /^\[@cache\/client\] (authentication failed|TLS handshake failed): /,
    '',
  )
  const code = (cause as { code?: unknown } | undefined)?.code
  if (/^(WRONGPASS|NOAUTH|NOPERM)|invalid (username-)?password|AUTH.*without any password/i.test(message)) {
    return new CacheError('E_AUTH', `${TAG} authentication failed: ${message.split('\n')[0]}`, { cause })
  }
  if (
    (typeof code === 'string' && TLS_ERROR.test(code)) ||
    /certificate|SSL routines|wrong version number/i.test(message)
  ) {
    return new CacheError('E_TLS', `${TAG} TLS handshake failed: ${message.split('\n')[0]}`, { cause })
  }
  return undefined
}
