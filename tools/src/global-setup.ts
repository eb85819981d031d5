import type { TestProject } from 'vitest/node'
import { startCluster, startSentinel, startStandalone, type TopologyInfo } from './harness/index.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Long-lived topologies shared by every integration test file; isolate by key prefix, never flush. */
    redis: {
      standalone: TopologyInfo & { kind: 'standalone' }
      sentinel: TopologyInfo & { kind: 'sentinel' }
      cluster: TopologyInfo & { kind: 'cluster' }
    }
  }
}

/** Starts one standalone (with a replica), one Sentinel and one Cluster topology for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [standalone, sentinel, cluster] = await Promise.all([
    startStandalone({ replicas: 1 }),
    startSentinel({ replicas: 1, sentinels: 3 }),
    startCluster({ masters: 3, replicasPerMaster: 1 }),
  ])
  project.provide('redis', {
    standalone: standalone.info() as TopologyInfo & { kind: 'standalone' },
    sentinel: sentinel.info() as TopologyInfo & { kind: 'sentinel' },
    cluster: cluster.info() as TopologyInfo & { kind: 'cluster' },
  })
  return async () => {
    await Promise.all([standalone.stop(), sentinel.stop(), cluster.stop()])
  }
}
