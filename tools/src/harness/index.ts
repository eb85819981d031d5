export { RedisNode, type RedisNodeOptions, serverBin, serverVersion } from './node.js'
export { freePort } from './ports.js'
export { pairs, parseInfo, RespError, type RespReply, respCommand } from './resp.js'
export {
  ClusterTopology,
  SentinelTopology,
  StandaloneTopology,
  startCluster,
  startSentinel,
  startStandalone,
  type TopologyInfo,
} from './topologies.js'
export { waitFor } from './wait.js'
