/**
 * Regenerates examples/service/dashboard.png (the README's screenshot): the service on a throwaway
 * redis-server with the load generator for 40 s, the dashboard's overview in headless Chromium.
 * `node --conditions=@cache/source --import tsx examples/service/scripts/screenshot.ts`
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { launchChromium, startStandalone } from '@cache/tools'
import { startService } from '../src/index.js'
import { runLoad } from '../src/load.js'

const out = fileURLToPath(new URL('../dashboard.png', import.meta.url))
const redis = await startStandalone()
const svc = await startService({ redis: { url: redis.url }, port: 0, devCodes: true, otpResendInterval: 0 })
const load = new AbortController()
const loadDone = runLoad(svc.url, { users: 8, signal: load.signal })
try {
  await sleep(40_000)
  const browser = await launchChromium()
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  await page.goto(`${svc.dashboardUrl}/`)
  await page.fill('input[name="token"]', svc.dashboardToken)
  await page.click('button[type="submit"]')
  await page.waitForSelector('body[data-page="overview"]')
  await sleep(3_000)
  await page.screenshot({ path: out, fullPage: true })
  await browser.close()
  console.log(`wrote ${out}`)
} finally {
  load.abort()
  await loadDone
  await svc.close()
  await redis.stop()
}
