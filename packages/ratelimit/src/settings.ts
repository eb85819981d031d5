import type { ResolvedLimiterOptions } from './options.js'

/** How an engine runs: the part of a limiter's resolved options shared by the limiters it combines. @internal */
export type EngineSettings = Pick<
  ResolvedLimiterOptions,
  'clock' | 'now' | 'outage' | 'blockCacheMaxKeys' | 'localMaxKeys' | 'analyticsTtlMs'
>
