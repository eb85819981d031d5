// A child process of processes.int.test.ts: takes one lock many times and records enter/exit with the
// fencing token in a Redis list, so the parent can check mutual exclusion across processes.
import { connect } from '@cache/client'
import { LockManager } from '../src/index.js'

const [target, namespace, label, rounds] = process.argv.slice(2) as [string, string, string, string]
// A redis:// URL, or a JSON list of cluster nodes.
const conn = target.startsWith('[')
  ? await connect({ cluster: { nodes: JSON.parse(target) }, namespace })
  : await connect({ url: target, namespace })
const locks = new LockManager(conn, { id: label, retryInterval: 50 })
const log = conn.keys.key('log')
for (let i = 0; i < Number(rounds); i++) {
  const lock = await locks.acquire('shared', { ttl: '5s', waitTimeout: '30s' })
  await conn.send(['RPUSH', log, `enter:${lock.token}:${label}`], { key: log })
  await new Promise((r) => setTimeout(r, Math.random() * 3))
  await conn.send(['RPUSH', log, `exit:${lock.token}:${label}`], { key: log })
  await lock.release()
  await new Promise((r) => setTimeout(r, Math.random() * 3))
}
await conn.close()
