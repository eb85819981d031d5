import type { TestProject } from 'vitest/node'
import { startCluster, startSentinel, startStandalone } from './harness/index.js'
import type { SharedTopologies } from './provided.js'

/** Starts one standalone (with a replica), one Sentinel and one Cluster topology for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [standalone, sentinel, cluster] = await Promise.all([
    startStandalone({ replicas: 1 }),
    startSentinel({ replicas: 1, sentinels: 3 }),
    startCluster({ masters: 3, replicasPerMaster: 1 }),
  ])
  project.provide('redis', {
    standalone: standalone.info() as SharedTopologies['standalone'],
    sentinel: sentinel.info() as SharedTopologies['sentinel'],
    cluster: cluster.info() as SharedTopologies['cluster'],
  })
  return async () => {
    await Promise.all([standalone.stop(), sentinel.stop(), cluster.stop()])
  }
}
