import { escapeGlob, type KeyBuilder } from '@cache/client'

/** Every Redis key and channel name of @cache/events is built here. */

/** The server-side name of a pub/sub channel: the bus prefix, then the channel as given. */
export function channelName(prefix: string, channel: string): string {
  return `${prefix}${channel}`
}

/** The server-side PSUBSCRIBE pattern: the prefix (matched literally), then the caller's glob. */
export function patternName(prefix: string, pattern: string): string {
  return `${escapeGlob(prefix)}${pattern}`
}

/** The keys of one stream: the stream and its dead-letter stream, in one cluster slot (`{name}`). */
export function streamKeys(keys: KeyBuilder, name: string): { stream: string; dead: string } {
  const base = keys.child('stream')
  return { stream: base.tagged(name), dead: base.tagged(name, 'dead') }
}

/**
 * The keys of a presence registry, all under one hash tag so its Lua scripts are cluster-safe:
 * a hash of connection records, a sorted set of connections by expiry, and one sorted set per room.
 * One registry lives in one cluster slot: shard by `scope` when it outgrows a node.
 */
export function presenceKeys(keys: KeyBuilder, scope: string) {
  const base = keys.child('presence')
  return {
    /** HASH connection id → JSON record. */
    records: base.tagged(scope, 'conn'),
    /** ZSET connection id → expiry time (ms). */
    expiry: base.tagged(scope, 'exp'),
    /** ZSET of a room: connection id → expiry time (ms). */
    room: (room: string) => base.tagged(scope, 'room', room),
  }
}
