/** Exit codes of the `cache` command. */
export const EXIT = Object.freeze({
  /** Everything is fine. */
  OK: 0,
  /** The command ran and found a problem (an unhealthy node, a missing key, a non-empty dead-letter queue). */
  PROBLEM: 1,
  /** Bad usage or no connection. */
  USAGE: 2,
})
