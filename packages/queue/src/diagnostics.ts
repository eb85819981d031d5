import diagnostics from 'node:diagnostics_channel'

/**
 * `cache:queue:completed`: `{ queue, name, id, attempt, runMs, waitMs }` per completed job. `runMs` is the
 * handler's run time; `waitMs` the time from the job's enqueue (plus its `delay`) to this attempt's start
 * (on a retry it includes the earlier attempts and their backoff).
 */
export const completedChannel = diagnostics.channel('cache:queue:completed')
/**
 * `cache:queue:failed`: `{ queue, name, id, attempt, code, error, runMs?, waitMs? }` per failed attempt;
 * `runMs` and `waitMs` (as on `completed`) when the handler ran (not for a schema-invalid job or a job
 * that stalled too often).
 */
export const failedChannel = diagnostics.channel('cache:queue:failed')
/** `cache:queue:retried`: `{ queue, name, id, attempt, delayMs }` when a failed attempt will be retried. */
export const retriedChannel = diagnostics.channel('cache:queue:retried')
/** `cache:queue:stalled`: `{ queue, id }` when BullMQ's stalled check takes a job back from a lost worker. */
export const stalledChannel = diagnostics.channel('cache:queue:stalled')
/** `cache:queue:dead-letter`: `{ queue, name, id, reason, code, attempts }` per job moved to the dead-letter queue. */
export const deadLetterChannel = diagnostics.channel('cache:queue:dead-letter')
/** `cache:queue:replayed`: `{ queue, replayed, skipped }` per replay call. */
export const replayedChannel = diagnostics.channel('cache:queue:replayed')
/** `cache:queue:timeout`: `{ queue, name, id, timeoutMs }` when an attempt runs past its timeout. */
export const timeoutChannel = diagnostics.channel('cache:queue:timeout')
/**
 * `cache:queue:zombie`: `{ queue, name, id, timeoutMs, graceMs }` when a processor still runs `graceMs`
 * after its timeout aborted the signal (its result will be discarded).
 */
export const zombieChannel = diagnostics.channel('cache:queue:zombie')
/** `cache:queue:tenant-delayed`: `{ queue, name, id, tenant, limit: 'rate' | 'concurrency', delayMs }`. */
export const tenantDelayedChannel = diagnostics.channel('cache:queue:tenant-delayed')
/** `cache:queue:warning`: `{ queue, code, message }` from the start-up checks. */
export const warningChannel = diagnostics.channel('cache:queue:warning')
