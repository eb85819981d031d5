// The dashboard in a real browser: headless Chromium (Debian's, through playwright-core) against a seeded
// deployment on the harness's standalone Redis.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { queueColumns } from '@cache/cli'
import { type Connection, connect } from '@cache/client'
import { browserSkipReason, launchChromium, uniquePrefix } from '@cache/tools'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dashboard, PAGES } from '../src/index.js'
import { type Seeded, seed } from './seed.js'

const redis = inject('redis')
const TOKEN = 'browser-token-0123456789'
// Evaluated in the page: the live stream delivered a reading; an action answered.
// (Functions, not strings: the page's CSP refuses eval, as it should.)
type Doc = {
  document: {
    querySelector(s: string): { getAttribute(a: string): string | null } | null
    body: { dataset: Record<string, string | undefined> }
  }
}
const LIVE = () =>
  Number((globalThis as unknown as Doc).document.querySelector('#live')?.getAttribute('data-seq')) >= 1
const DONE = () =>
  (globalThis as unknown as Doc).document.body.dataset.lastAction?.startsWith('done') === true

describe.skipIf(browserSkipReason())('dashboard in headless Chromium', () => {
  const namespace = uniquePrefix('dash-ui')
  let conn: Connection
  let seeded: Seeded
  let server: Server
  let base: string
  let browser: Browser
  let page: Page
  // Script errors and CSP violations the pages report.
  const consoleErrors: string[] = []

  beforeAll(async () => {
    conn = await connect({ url: redis.standalone.url, namespace })
    seeded = await seed(conn)
    server = createServer(
      dashboard({
        conn,
        metrics: seeded.metrics,
        auth: { token: TOKEN },
        basePath: '/ops',
        caches: { catalog: seeded.cache },
        sessions: seeded.sessions,
        liveInterval: '1s',
      }),
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/`
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('dialog', (d) => void d.accept())
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text())
    })
    page.on('pageerror', (e) => consoleErrors.push(e.message))
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    server?.closeAllConnections()
    await new Promise((r) => server?.close(r))
    await seeded?.close()
    await conn?.close()
  })

  const liveSeq = () => page.locator('#live').getAttribute('data-seq').then(Number)

  it('is refused without the token, then logs in through the form', async () => {
    const refused = await page.goto(base)
    expect(refused!.status()).toBe(401)
    expect(await page.locator('body[data-page]').count()).toBe(0)
    const wrong = await page.request.get(`${base}api/pages/overview`)
    expect(wrong.status()).toBe(401)
    await page.fill('input[name="token"]', TOKEN)
    await Promise.all([page.waitForURL(base), page.click('button[type="submit"]')])
    await page.waitForSelector('body[data-page="overview"]')
  })

  it('loads every page with charts that have data and tables', async () => {
    consoleErrors.length = 0
    for (const name of PAGES) {
      await page.goto(name === 'overview' ? base : `${base}${name}`)
      await page.waitForFunction(LIVE, null, { timeout: 60_000 })
      const charts = await page.locator('[data-chart]').evaluateAll((els) =>
        els.map((e) => ({
          id: e.getAttribute('data-chart'),
          points: Number(e.getAttribute('data-points')),
          canvas: e.querySelector('canvas') !== null,
        })),
      )
      expect(charts.length, name).toBeGreaterThan(0)
      expect(
        charts.every((c) => c.canvas),
        name,
      ).toBe(true)
      expect(
        charts.some((c) => c.points > 0),
        `${name}: ${JSON.stringify(charts)}`,
      ).toBe(true)
      expect(await page.locator('[data-table]').count(), name).toBeGreaterThan(0)
      expect(await page.locator('#error').isHidden()).toBe(true)
    }
    expect(consoleErrors).toEqual([])
  })

  it('receives live updates over SSE without a reload', async () => {
    await page.goto(base)
    await page.waitForFunction(LIVE, null, { timeout: 60_000 })
    const before = await liveSeq()
    const marker = await page.evaluate(() => {
      ;(globalThis as { marker?: number }).marker = Math.random()
      return (globalThis as { marker?: number }).marker
    })
    await seeded.traffic()
    await expect.poll(liveSeq, { timeout: 60_000 }).toBeGreaterThan(before + 1)
    // The same document: no navigation happened.
    expect(await page.evaluate(() => (globalThis as { marker?: number }).marker)).toBe(marker)
    expect(Number(await page.locator('[data-chart="ops"]').getAttribute('data-points'))).toBeGreaterThan(0)
  })

  it('the range picker reconnects the stream with the new range and redraws the charts', async () => {
    await page.goto(base)
    await page.waitForFunction(LIVE, null, { timeout: 60_000 })
    const ranges: string[] = []
    page.on('request', (r) => {
      if (r.url().includes('/api/live/')) ranges.push(new URL(r.url()).searchParams.get('range') ?? '')
    })
    const before = await liveSeq()
    await page.selectOption('#range', '1h')
    await expect.poll(liveSeq, { timeout: 60_000 }).toBeGreaterThan(before)
    expect(ranges).toContain('1h')
    expect(Number(await page.locator('[data-chart="ops"]').getAttribute('data-points'))).toBeGreaterThan(0)
    // Kept for the next page of this tab.
    await page.goto(`${base}caches`)
    expect(await page.locator('#range').inputValue()).toBe('1h')
  })

  it('the queues page charts wait and run p99 per queue and lists them in the table', async () => {
    await page.goto(`${base}queues`)
    await page.waitForFunction(LIVE, null, { timeout: 60_000 })
    for (const id of ['queue-wait', 'queue-run'])
      expect(
        Number(await page.locator(`[data-chart="${id}"]`).getAttribute('data-points')),
        id,
      ).toBeGreaterThan(0)
    const table = page.locator('[data-table="queue-counts"]')
    // The cli's columns (`cache queues` with a Metrics store): one implementation for both.
    expect(await table.locator('thead th').allTextContents()).toEqual(queueColumns(true))
    const cells = await table.locator('tbody tr').first().locator('td').allTextContents()
    expect(cells[0]).toBe('emails')
    for (const cell of cells.slice(8)) expect(cell).toMatch(/^\d+(\.\d+)? (ms|s)$/)
  })

  it('replays one dead letter from the queues page; Redis has one dead letter fewer', async () => {
    const before = await seeded.queue.deadLetters.count()
    expect(before).toBeGreaterThan(0)
    await page.goto(`${base}queues`)
    const button = page.locator('button.replay-one').first()
    await button.waitFor({ timeout: 60_000 })
    const id = await button.getAttribute('data-id')
    await button.click()
    await page.waitForFunction(DONE, null, { timeout: 60_000 })
    expect(
      await page.evaluate(() => (globalThis as unknown as Doc).document.body.dataset.lastAction),
    ).toContain('"replayed":1')
    expect(await seeded.queue.deadLetters.count()).toBe(before - 1)
    expect((await seeded.queue.deadLetters.list({ limit: 100 })).map((d) => d.id)).not.toContain(id)
  })

  it('a readOnly dashboard shows the dead letters without any action', async () => {
    const ro = createServer(
      dashboard({
        conn,
        metrics: seeded.metrics,
        auth: {},
        readOnly: true,
        caches: { catalog: seeded.cache },
      }),
    )
    await new Promise<void>((r) => ro.listen(0, '127.0.0.1', r))
    const other = await browser.newPage()
    try {
      const url = `http://127.0.0.1:${(ro.address() as AddressInfo).port}/`
      for (const name of ['queues', 'caches']) {
        await other.goto(`${url}${name}`)
        await other.waitForSelector('[data-table]', { timeout: 60_000 })
        expect(await other.locator('#actions form, button.replay-one').count(), name).toBe(0)
        if (name === 'queues')
          expect(
            await other.locator('[data-table="queue-dlq"] tbody tr td:not(.empty)').count(),
          ).toBeGreaterThan(0)
      }
    } finally {
      await other.close()
      ro.closeAllConnections()
      await new Promise((r) => ro.close(r))
    }
  })

  it('invalidates a tag from the caches page', async () => {
    await seeded.cache.set('product:100', { id: 100 }, { ttl: '1h', tags: ['shelf:9'] })
    await page.goto(`${base}caches`)
    await page.waitForSelector('form[data-action="invalidate-tag"]', { timeout: 60_000 })
    await page.fill('form[data-action="invalidate-tag"] input[name="tag"]', 'shelf:9')
    await page.click('form[data-action="invalidate-tag"] button')
    await page.waitForFunction(DONE, null, { timeout: 60_000 })
    expect(await seeded.cache.get('product:100')).toBeUndefined()
  })
})
