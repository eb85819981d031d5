export { InvalidPayloadError, type QueueErrorCode } from './errors.js'
export { defineQueue, type JobDefinition, type QueueOptions, TypedQueue } from './queue.js'
