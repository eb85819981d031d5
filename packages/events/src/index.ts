export { ClosedError, InvalidArgumentError, UnsupportedError } from '@cache/client'
export { Consumer } from './consumer.js'
export type {
  ConsumerOptions,
  ConsumerStats,
  EventContext,
  EventHandler,
} from './consumer-options.js'
export { deadLetterChannel, handlerErrorChannel, invalidChannel } from './diagnostics.js'
export { decodeEnvelope, type Envelope, encodeEnvelope } from './envelope.js'
export {
  type EventsErrorCode,
  HandlerError,
  InvalidPayloadError,
  NotFoundError,
} from './errors.js'
export { Presence, type PresenceOptions, type PresenceRecord } from './presence.js'
export {
  type ChannelSchemas,
  type InputOf,
  type MessageHandler,
  type MessageMeta,
  type PayloadOf,
  PubSub,
  type PubSubOptions,
  type PubSubStats,
  type SubscribeOptions,
  type Subscription,
} from './pubsub.js'
export type { PendingEntry, PendingSummary } from './replies.js'
export { type DeliverFn, RoomHub, type RoomHubOptions } from './rooms.js'
export { type DeadLetter, EventStream, type EventStreamOptions, type PendingReport } from './stream.js'
