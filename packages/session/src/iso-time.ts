/**
 * `new Date(t).toISOString()` for the store's `cookie.expires`, once per read: `toISOString` costs about a
 * microsecond a call on Node 20 (a good part of a read of a kept session), so the text up to the seconds is
 * kept for the last second formatted and only the milliseconds are added (requests a few ms apart share a
 * second). Anything but an integer time of years 0000-9999 goes to `toISOString` itself.
 */
let second = Number.NaN
let secondText = ''

/** `"123Z"` for 123 ms. */
const MS_TAIL = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}Z`)

/** The first time of year 10000 (where toISOString turns to the extended-year form). */
const YEAR_10000 = 253_402_300_800_000

/** `new Date(t).toISOString()`, the same text (and the same RangeError for an invalid time). */
export function isoTime(t: number): string {
  const ms = t % 1000
  const s = t - ms
  if (s === second) {
    const tail = MS_TAIL[ms]
    if (tail !== undefined) return secondText + tail
  }
  if (!Number.isInteger(t) || t < 0 || t >= YEAR_10000) return new Date(t).toISOString()
  // "YYYY-MM-DDTHH:MM:SS." of this second, then its milliseconds.
  secondText = new Date(s).toISOString().slice(0, 20)
  second = s
  return secondText + MS_TAIL[ms]
}
