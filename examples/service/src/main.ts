/**
 * `npm start`: a throwaway redis-server (or a local Cluster with --cluster) unless REDIS_URL is set, the
 * service on PGlite (or DATABASE_URL), and a gentle load generator (unless --no-load); prints the URLs and
 * the dashboard token. Ctrl-C (SIGINT) or SIGTERM stops everything it started, redis-server included.
 */
import { isCacheError } from '@cache/client'
import { type ClusterTopology, type StandaloneTopology, startCluster, startStandalone } from '@cache/tools'
import { parseStartConfig, type ServiceOptions, startService } from './index.js'
import { runLoad } from './load.js'

const started: Array<StandaloneTopology | ClusterTopology> = []
let service: Awaited<ReturnType<typeof startService>> | undefined
const load = new AbortController()
let loadDone: Promise<void> = Promise.resolve()
let stopping: Promise<void> | undefined

function stop(code: number): void {
  stopping ??= (async () => {
    console.log('\nStopping…')
    load.abort()
    const watchdog = setTimeout(() => process.exit(code), 15_000)
    watchdog.unref()
    await loadDone.catch(() => {})
    await service?.close().catch((err) => console.error(`service close: ${(err as Error).message}`))
    for (const t of started) await t.stop().catch(() => {})
    console.log('Stopped.')
    process.exit(code)
  })()
}
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))

async function main(): Promise<void> {
  const config = parseStartConfig(process.argv.slice(2), process.env)
  const t0 = performance.now()
  let redis: ServiceOptions['redis']
  if (config.redisUrl) redis = { url: config.redisUrl }
  else if (config.cluster) {
    const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 })
    started.push(cluster)
    redis = { cluster: { nodes: cluster.nodes.map((n) => `${n.host}:${n.port}`) } }
    console.log(
      `Started a local Redis Cluster (3 masters + 3 replicas) on ports ${cluster.nodes.map((n) => n.port).join(', ')}`,
    )
  } else {
    const standalone = await startStandalone()
    started.push(standalone)
    redis = { url: standalone.url }
    console.log(`Started a throwaway redis-server at ${standalone.url} (REDIS_URL unset)`)
  }
  if (stopping) return
  service = await startService({
    redis,
    port: config.port,
    host: config.host,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    ...(config.dataDir ? { dataDir: config.dataDir } : {}),
    ...(config.dashboardToken ? { dashboardToken: config.dashboardToken } : {}),
    paymentsFailureRate: config.paymentsFailureRate,
    log: (line) => console.log(`  [service] ${line}`),
  })
  const s = service
  console.log(`
CRM service ready in ${Math.round(performance.now() - t0)} ms (${s.family.db.kind}, Redis ${s.family.conn.topology})
  API        ${s.url}/api   (try: curl ${s.url}/healthz)
  Dashboard  ${s.dashboardUrl}/   (sign in with the token below, or send Authorization: Bearer <token>)
  Token      ${s.dashboardToken}
  Metrics    ${s.url}/metrics
  WebSocket  ${s.url.replace('http', 'ws')}/ws
  Database   ${s.databaseUrl.replace(/\/\/[^@/]*@/, '//…@')} (${s.family.db.kind})
  Worker     REDIS_URL=… DATABASE_URL=… npm run worker -w @cache/example-service (jobs also run in this process)
  Users      alice@t1.test, bob@t1.test, carol@t2.test (password "password", code from POST /api/auth/code)
  Load       ${config.load ? `${config.users} simulated users` : 'off (--no-load)'}
Ctrl-C stops everything.`)
  if (config.load && !stopping) {
    let errors = 0
    loadDone = runLoad(s.url, {
      users: config.users,
      signal: load.signal,
      onError: (err) => {
        if (errors++ % 50 === 0) console.log(`  [load] ${(err as Error).message}`)
      },
    })
  }
}

main().catch((err) => {
  if (isCacheError(err, 'E_INVALID_OPTION')) console.error(`${(err as Error).message}`)
  else console.error(err)
  stop(1)
})
