import { globToRegExp } from '@cache/core'
import { channels, event, type Flight, type TieredState } from './state.js'

/** Coherence bookkeeping: what an invalidation, a flush or a change of trust does to L1 and flights. */

/** Keys invalidated by another process (or the server): drop them from L1, mark their flights dirty. */
export function invalidated(st: TieredState, parts: readonly string[]): void {
  st.s.invalidations++
  for (const p of parts) {
    const f = st.inflight.get(p)
    if (f) f.dirty = true
    st.l1.deletePart(p)
  }
  if (st.events.listenerCount('invalidate') > 0) st.events.emit('invalidate', { parts })
}

/** Keys matching `glob` were removed (here or elsewhere): drop exactly those from L1. */
export function patternInvalidated(st: TieredState, glob: string): void {
  st.s.invalidations++
  const re = globToRegExp(glob)
  const parts: string[] = []
  for (const e of [...st.l1.map.values()]) {
    if (!re.test(e.key)) continue
    parts.push(e.part)
    st.l1.remove(e)
  }
  // Flights are keyed by escaped part, which a glob on keys cannot be matched against: mark them all, so
  // that no read overlapping the deletion fills L1 with what it just read (it is simply not kept).
  for (const f of st.inflight.values()) f.dirty = true
  if (st.events.listenerCount('invalidate') > 0) st.events.emit('invalidate', { parts })
}

/** Drops every L1 entry and marks every flight dirty. */
export function flushL1(st: TieredState): void {
  st.s.invalidations++
  st.l1.clear()
  for (const f of st.inflight.values()) f.dirty = true
  if (st.events.listenerCount('invalidate') > 0) st.events.emit('invalidate', { parts: 'all' })
}

/** Records whether L1 is trusted; true when it just became trusted (time to replay offline writes). */
export function setTrusted(st: TieredState, trusted: boolean): boolean {
  if (trusted === st.trusted) return false
  st.trusted = trusted
  // Entries of an older generation are no longer served as fresh: at most as a fail-safe fallback.
  st.gen++
  for (const f of st.inflight.values()) f.dirty = true
  event(st, 'coherence', channels.coherence, { trusted })
  return trusted
}

/** Marks an operation on `part` in flight (overlapping operations share one flag). */
export function track(st: TieredState, part: string): Flight {
  let f = st.inflight.get(part)
  if (f) {
    f.n++
    // Several overlapping operations share one flag; a later one must not clear an earlier invalidation.
    return f
  }
  f = { dirty: false, n: 1 }
  st.inflight.set(part, f)
  return f
}

/** Ends an operation on `part`. */
export function untrack(st: TieredState, part: string, f: Flight): void {
  if (--f.n === 0 && st.inflight.get(part) === f) st.inflight.delete(part)
}
