/**
 * The dashboard of the running service, under the load generator's traffic, in headless Chromium (Debian's,
 * through playwright-core): it signs in with the token and the charts show non-zero traffic.
 */
import { browserSkipReason, launchChromium, type StandaloneTopology, startStandalone } from '@cache/tools'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningService, startService } from '../src/index.js'
import { runLoad } from '../src/load.js'

type Doc = {
  document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> }
}
/** Evaluated in the page (a function: the page's CSP refuses eval): points of every chart. */
const CHART_POINTS = () =>
  Array.from((globalThis as unknown as Doc).document.querySelectorAll('[data-chart]')).map((e) => ({
    id: e.getAttribute('data-chart'),
    points: Number(e.getAttribute('data-points')),
  }))

describe.skipIf(browserSkipReason())('the service dashboard in headless Chromium', () => {
  let redis: StandaloneTopology
  let svc: RunningService
  let browser: Browser
  const load = new AbortController()
  let loadDone: Promise<void> = Promise.resolve()

  beforeAll(async () => {
    redis = await startStandalone()
    svc = await startService({ redis: { url: redis.url }, port: 0, devCodes: true, otpResendInterval: 0 })
    loadDone = runLoad(svc.url, { users: 3, signal: load.signal })
    browser = await launchChromium()
  }, 180_000)

  afterAll(async () => {
    load.abort()
    await loadDone
    await browser?.close()
    await svc?.close()
    await redis?.stop()
  }, 60_000)

  it('signs in with the token and shows the traffic of the simulated users', async () => {
    // traffic reached Redis-backed metrics (flushed every 5 s) before the page is read
    await expect
      .poll(
        async () =>
          (await (await fetch(`${svc.url}/metrics`)).text()).match(
            /^crm_http_requests_total\{.*\} (\d+)/m,
          )?.[1],
        {
          timeout: 60_000,
          interval: 500,
        },
      )
      .toBeDefined()
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    const refused = await page.goto(`${svc.dashboardUrl}/`)
    expect(refused?.status()).toBe(401)
    await page.fill('input[name="token"]', svc.dashboardToken)
    await page.click('button[type="submit"]')
    await page.waitForSelector('body[data-page="overview"]', { timeout: 60_000 })
    await expect
      .poll(async () => (await page.evaluate(CHART_POINTS)).some((c) => c.points > 0), {
        timeout: 60_000,
        interval: 500,
      })
      .toBe(true)
    await page.goto(`${svc.dashboardUrl}/caches`)
    await page.waitForSelector('body[data-page="caches"]', { timeout: 60_000 })
    // the caches table is filled from the page's data request: wait for it
    await expect.poll(() => page.content(), { timeout: 60_000, interval: 500 }).toContain('contacts')
    expect(errors).toEqual([])
  }, 180_000)
})
