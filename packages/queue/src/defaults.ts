/** Defaults of @cache/queue options, in one place. */

/** Namespace part of the queue keys, under the connection's namespace. */
export const DEFAULT_NAMESPACE = 'queue'
/** Attempts a job gets before it goes to the dead-letter queue. */
export const DEFAULT_ATTEMPTS = 3
/** First retry delay (ms). */
export const DEFAULT_BACKOFF_DELAY_MS = 1_000
/** Cap of the exponential retry delay (ms). */
export const DEFAULT_BACKOFF_MAX_MS = 3_600_000
/** Jitter of the retry delay, as a fraction of it. */
export const DEFAULT_BACKOFF_JITTER = 0.2
/** Completed jobs kept: for a day, 10,000 at most. */
export const DEFAULT_REMOVE_ON_COMPLETE = { ageMs: 86_400_000, count: 10_000 } as const
/** Failed jobs kept (their copy lives on in the dead-letter queue): for a week, 10,000 at most. */
export const DEFAULT_REMOVE_ON_FAIL = { ageMs: 7 * 86_400_000, count: 10_000 } as const
/** Jobs a worker runs at once. */
export const DEFAULT_CONCURRENCY = 1
/** After a timeout, how long a processor may take to notice the signal before it is reported a zombie. */
export const DEFAULT_ZOMBIE_GRACE_MS = 1_000
/** How long `worker.close()` waits for in-flight jobs. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000
/** How long a replayed dead letter's id is remembered, so that a second replay is a no-op. */
export const DEFAULT_REPLAY_DEDUP_MS = 7 * 86_400_000
/** Dead letters returned by `deadLetters.list()` when no limit is given. */
export const DEFAULT_LIST_LIMIT = 100
/** Dead letters read or replayed per round trip. */
export const DLQ_PAGE = 500
/** The dead-letter queue's name: the source queue's name with this suffix. */
export const DLQ_SUFFIX = '-dlq'
/** Samples of wait and run time kept for percentiles. */
export const DEFAULT_LATENCY_SAMPLES = 2_048
/** The window of the throughput meters (s). */
export const RATE_WINDOW_S = 60
/** A tenant over its concurrency limit is retried after at most this long (ms). */
export const TENANT_CONCURRENCY_RETRY_MS = 250
/** Maximum jobs per worker. */
export const MAX_CONCURRENCY = 10_000
/** Fair ordering: a tenant's jobs take one priority level per this many jobs added in the window. */
export const DEFAULT_FAIRNESS_QUANTUM = 100
/** Fair ordering: the window over which a tenant's added jobs are counted. */
export const DEFAULT_FAIRNESS_WINDOW_MS = 60_000
/** BullMQ's lowest priority. */
export const MAX_PRIORITY = 2 ** 21 - 1
/** How long a producer call waits for Redis before E_UNAVAILABLE. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000
