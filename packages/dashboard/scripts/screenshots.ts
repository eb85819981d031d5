// Screenshots of every dashboard page, from a seeded deployment on a throwaway redis-server (the harness),
// to docs/screenshots/dashboard-<page>.png. Run from the repository root:
//   node --conditions=@cache/source --import tsx packages/dashboard/scripts/screenshots.ts
// Fifteen minutes of history are written first with the Metrics clock moved back, so the charts have shape.
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@cache/client'
import { launchChromium, startStandalone } from '@cache/tools'
import { dashboard, PAGES } from '../src/index.js'
import { seed } from '../test/seed.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const out = join(root, 'docs/screenshots')
mkdirSync(out, { recursive: true })

const HISTORY_MS = 15 * 60_000
const STEP_MS = 10_000
let now = Date.now() - HISTORY_MS
const redis = await startStandalone()
const conn = await connect({ url: redis.url, namespace: 'shop' })
const seeded = await seed(conn, { deadLetters: 4, clock: () => now })
try {
  for (let i = 0; now < Date.now(); i++, now += STEP_MS) {
    // A daily-looking wave with a burst two thirds of the way.
    const rounds = 1 + Math.round(2 + 2 * Math.sin(i / 9)) + (i > 55 && i < 62 ? 4 : 0)
    await seeded.traffic(rounds)
    for (let j = 0; j < rounds; j++)
      await seeded.queue.add('welcome', { to: `customer${i}-${j}@example.com` })
  }
  now = Date.now()
  const handler = dashboard({
    conn,
    metrics: seeded.metrics,
    auth: {},
    caches: { catalog: seeded.cache },
    sessions: seeded.sessions,
    liveInterval: '1s',
  })
  const server = createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 })
    for (const name of PAGES) {
      await page.goto(name === 'overview' ? base : `${base}${name}`)
      // A few live readings (the server page samples INFO on each).
      await page.waitForFunction(
        (n) =>
          Number(
            (
              globalThis as unknown as {
                document: { querySelector(s: string): { getAttribute(a: string): string | null } | null }
              }
            ).document
              .querySelector('#live')
              ?.getAttribute('data-seq'),
          ) >= n,
        name === 'server' ? 6 : 1,
        { timeout: 60_000 },
      )
      const file = join(out, `dashboard-${name}.png`)
      await page.screenshot({ path: file, fullPage: true })
      console.log(`wrote ${file}`)
    }
  } finally {
    await browser.close()
    server.closeAllConnections()
    server.close()
  }
} finally {
  await seeded.close()
  await conn.close()
  await redis.stop()
}
