/**
 * The @cache demo (`npm start`): connects to REDIS_URL, or to a throwaway redis-server started by the test
 * harness, and walks through what each package does, printing timings. Ctrl-C stops everything it started.
 */
import { connect } from '@cache/client'
import { type StandaloneTopology, startStandalone } from '@cache/tools'

let server: StandaloneTopology | undefined
let stopping = false
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    await server?.stop()
  }
  process.exit(code)
}
process.on('SIGINT', () => void shutdown(130))
process.on('SIGTERM', () => void shutdown(143))

function ms(start: number): string {
  return `${(performance.now() - start).toFixed(2)} ms`
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now()
  const value = await fn()
  console.log(
    `  ${label.padEnd(44)} ${ms(start).padStart(10)}   ${JSON.stringify(value)?.slice(0, 60) ?? ''}`,
  )
  return value
}

async function main(): Promise<void> {
  let url = process.env.REDIS_URL
  if (!url) {
    const start = performance.now()
    server = await startStandalone()
    url = server.url
    console.log(`Started a throwaway redis-server at ${url} in ${ms(start)} (REDIS_URL unset)`)
  }

  console.log('\n@cache/client — one guarded connection')
  const connectStart = performance.now()
  const conn = await connect({ url, namespace: 'demo' })
  console.log(`  ${'connect'.padEnd(44)} ${ms(connectStart).padStart(10)}   "${conn.topology}"`)
  const health = await conn.health()
  console.log(
    `  health: ok=${health.ok} ${health.topology} ${health.role} redis ${health.version}, ${health.latencyMs.toFixed(2)} ms ping, ${(health.usedMemory / 2 ** 20).toFixed(1)} MiB used`,
  )
  const key = conn.keys.key('greeting', 'user:42')
  await timed(`SET ${key}`, () => conn.commands.set(key, 'hello', { PX: 60_000 }))
  await timed(`GET ${key}`, () => conn.commands.get(key))
  const incr = conn.defineScript<number>('demo-incr', "return redis.call('INCRBY', KEYS[1], ARGV[1])", {
    keys: 1,
  })
  await timed('Lua INCRBY via EVALSHA', () => incr([conn.keys.key('counter')], [5]))
  const batch = Array.from({ length: 100 }, (_, i) => conn.keys.key('batch', i))
  await timed('100 SETs, pipelined', () =>
    Promise.all(batch.map((k, i) => conn.commands.set(k, String(i)))).then((r) => r.length),
  )
  await timed('100 GETs, pipelined', () =>
    Promise.all(batch.map((k) => conn.commands.get(k))).then((r) => r.length),
  )

  for (const section of sections) await section(url)

  await conn.close()
  console.log('\nDone.')
}

/** Further demo sections, one per package, each given the server URL. */
const sections: Array<(url: string) => Promise<void>> = []

main()
  .then(() => shutdown(0))
  .catch(async (err) => {
    console.error(err)
    await shutdown(1)
  })
