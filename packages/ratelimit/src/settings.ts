import type { OutagePolicy } from './options.js'

/** How an engine runs. @internal */
export interface EngineSettings {
  clock: 'server' | 'client'
  now: () => number
  outage: OutagePolicy
  blockCacheMaxKeys: number
  localMaxKeys: number
  analyticsTtlMs: number
}
