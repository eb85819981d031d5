import diagnostics from 'node:diagnostics_channel'

/** diagnostics_channel `cache:ratelimit:decision`: `{ rules, allowed, source, cost }` after every decision. */
export const decisionChannel = diagnostics.channel('cache:ratelimit:decision')
/** diagnostics_channel `cache:ratelimit:outage`: `{ state: 'down' | 'up', policy }` on outage transitions. */
export const outageChannel = diagnostics.channel('cache:ratelimit:outage')
