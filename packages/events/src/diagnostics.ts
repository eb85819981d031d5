import diagnostics from 'node:diagnostics_channel'

/** diagnostics_channel `cache:events:invalid`: `{ kind: 'pubsub' | 'stream', target, issues, id? }` per rejected message. */
export const invalidChannel = diagnostics.channel('cache:events:invalid')
/** diagnostics_channel `cache:events:handler-error`: `{ kind, target, error }` when a pub/sub handler throws. */
export const handlerErrorChannel = diagnostics.channel('cache:events:handler-error')
/** diagnostics_channel `cache:events:dead-letter`: `{ stream, group, id, reason, deliveries }` per dead letter. */
export const deadLetterChannel = diagnostics.channel('cache:events:dead-letter')
