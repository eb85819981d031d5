import type {} from 'vitest'
import type { TopologyInfo } from './harness/index.js'

/** The topologies the integration globalSetup shares with every test file (`inject('redis')`). */
export interface SharedTopologies {
  standalone: Extract<TopologyInfo, { kind: 'standalone' }>
  sentinel: Extract<TopologyInfo, { kind: 'sentinel' }>
  cluster: Extract<TopologyInfo, { kind: 'cluster' }>
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Long-lived topologies shared by every integration test file; isolate by key prefix, never flush. */
    redis: SharedTopologies
  }
}
