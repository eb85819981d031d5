import { CacheError, isCacheError } from '@cache/client'

/** Replies of a server that is not ready (cluster down, loading, a replica, busy script). */
const CONNECTIVITY_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|READONLY|BUSY |NOREPLICAS)/
/** What ioredis (under BullMQ) throws when it has no usable connection. */
const CONNECTIVITY_MESSAGE =
  /Connection is closed|Too many Cluster redirections|ClusterAllFailedError|Failed to refresh slots cache|Stream isn't writeable|enableOfflineQueue options is false|Reached the max retries per request limit|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/

/**
 * A failure of a BullMQ call as a typed CacheError: a server or connection that is not there or not ready is
 * E_UNAVAILABLE (retry later), any other Redis reply E_COMMAND; errors that are neither (BullMQ's own checks)
 * stay as they are. BullMQ talks to Redis through ioredis, whose errors are not node-redis's, so the client's
 * mapping does not recognise them.
 */
export function toQueueError(err: unknown, what: string): unknown {
  if (isCacheError(err) || !(err instanceof Error)) return err
  const message = err.message
  if (err.name === 'ReplyError' && !CONNECTIVITY_REPLY.test(message)) {
    return new CacheError('E_COMMAND', `[@cache/queue] ${what} failed: ${message}`, { cause: err })
  }
  if (err.name === 'ReplyError' || CONNECTIVITY_MESSAGE.test(message)) {
    return new CacheError('E_UNAVAILABLE', `[@cache/queue] ${what}: Redis unavailable (${message})`, {
      cause: err,
    })
  }
  return err
}
