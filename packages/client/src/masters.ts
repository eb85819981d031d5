import type { CommandPath } from './command-path.js'
import type { AnyRedis, Arg, RedisCluster, RedisSentinel, RedisStandalone, Topology } from './types.js'

/** One master node, for commands that must visit every master (SCAN, INFO, SCRIPT FLUSH). */
export interface MasterNode {
  address: string
  send<T = unknown>(args: Arg[], options?: { buffers?: boolean; timeoutMs?: number }): Promise<T>
}

type RawSend = (args: Arg[], options: unknown) => Promise<unknown>

/** Every master of `redis` (one on standalone and Sentinel, each shard's master on a cluster), guarded. */
export async function mastersOf(
  redis: AnyRedis,
  topology: Topology,
  path: CommandPath,
  bufferOptions: unknown,
): Promise<MasterNode[]> {
  const wrap = (address: string, raw: RawSend): MasterNode => ({
    address,
    send: <T>(args: Arg[], o: { buffers?: boolean; timeoutMs?: number } = {}) =>
      path.exec<T>(
        `${String(args[0])}@${address}`,
        () => raw(args, o.buffers ? bufferOptions : undefined) as Promise<T>,
        o.timeoutMs,
      ),
  })
  if (topology === 'cluster') {
    const cluster = redis as RedisCluster
    return Promise.all(
      cluster.masters.map(async (m) => {
        const client = (await cluster.nodeClient(m)) as unknown as RedisStandalone
        return wrap(`${m.host}:${m.port}`, (args, o) => client.sendCommand(args, o as undefined))
      }),
    )
  }
  if (topology === 'sentinel') {
    const sentinel = redis as RedisSentinel
    const node = sentinel.getMasterNode()
    return [
      wrap(node ? `${node.host}:${node.port}` : 'master', (args, o) =>
        sentinel.sendCommand(false, args, o as undefined),
      ),
    ]
  }
  const client = redis as RedisStandalone
  const socket = client.options?.socket as { host?: string; port?: number } | undefined
  return [
    wrap(`${socket?.host ?? '127.0.0.1'}:${socket?.port ?? 6379}`, (args, o) =>
      client.sendCommand(args, o as undefined),
    ),
  ]
}

/** SCAN with MATCH over every master, in batches of about `count` keys (never KEYS). */
export async function* scanMasters(
  masters: MasterNode[],
  match: string,
  { count = 500, type }: { count?: number; type?: string } = {},
): AsyncGenerator<string[]> {
  for (const node of masters) {
    let cursor = '0'
    do {
      const args = ['SCAN', cursor, 'MATCH', match, 'COUNT', String(count)]
      if (type) args.push('TYPE', type)
      const reply = await node.send<[string, string[]]>(args)
      cursor = String(reply[0])
      if (reply[1].length > 0) yield reply[1]
    } while (cursor !== '0')
  }
}
