import type { KeyBuilder } from '@cache/client'

/** Every Redis key of one mutex resource; all share the `{resource}` hash tag (one cluster slot). */
export interface MutexKeys {
  lock: string
  fence: string
  queue: string
  deadlines: string
  channel: string
  waiters: string
}

/** Keys of a mutex resource: `ns:lock:{resource}` and its `:fence`, `:q`, `:qd`, `:ch`, `:w` companions. */
export function mutexKeys(keys: KeyBuilder, resource: string): MutexKeys {
  const lock = keys.tagged(resource)
  return {
    lock,
    fence: `${lock}:fence`,
    queue: `${lock}:q`,
    deadlines: `${lock}:qd`,
    channel: `${lock}:ch`,
    waiters: `${lock}:w`,
  }
}

/** The hash where waiters register (wait-for diagnostics): `ns:lock:waits`. */
export function waitsKey(keys: KeyBuilder): string {
  return keys.key('waits')
}

/** Keys of a semaphore: `ns:sem:{name}` (holders), `:fence`, `:ch`. */
export function semaphoreKeys(keys: KeyBuilder, name: string) {
  const holders = keys.tagged(name)
  return { holders, fence: `${holders}:fence`, channel: `${holders}:ch` }
}

/** Keys of a read-write lock: `ns:rw:{name}:r` (readers), `:w` (writer), `:ww`, `:fence`, `:ch`. */
export function rwKeys(keys: KeyBuilder, name: string) {
  const base = keys.tagged(name)
  return {
    readers: `${base}:r`,
    writer: `${base}:w`,
    writerWaiting: `${base}:ww`,
    fence: `${base}:fence`,
    channel: `${base}:ch`,
  }
}
