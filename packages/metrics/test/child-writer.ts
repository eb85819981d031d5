// A child process of processes.int.test.ts: increments a counter and observes a histogram while flushing
// every 20 ms, so four of these write the same keys concurrently.
import { connect } from '@cache/client'
import { Metrics } from '../src/index.js'
import { samples } from './samples.js'

const [target, namespace, label, seed, count] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
]
const conn = target.startsWith('[')
  ? await connect({ cluster: { nodes: JSON.parse(target) }, namespace })
  : await connect({ url: target, namespace })
const metrics = new Metrics(conn, { id: label, flushInterval: 20 })
const reqs = metrics.counter('http_requests_total', { labels: ['route', 'status'] })
const lat = metrics.histogram('http_request_duration_seconds', { labels: ['route'] })
const values = samples(Number(seed), Number(count))
for (let i = 0; i < values.length; i++) {
  reqs.inc({ route: i % 2 ? '/a' : '/b', status: '200' })
  if (i % 10 === 0) reqs.inc(2, { route: '/a', status: '500' })
  lat.observe(values[i]!, { route: i % 2 ? '/a' : '/b' })
  if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5))
}
await metrics.close()
await conn.close()
