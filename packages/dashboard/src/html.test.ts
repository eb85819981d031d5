import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { generate } from '../scripts/gen-assets.js'
import { ASSETS } from './assets.generated.js'
import { ratio, total, windowOf } from './charts.js'
import { escapeHtml, loginHtml, pageHtml } from './html.js'
import { PAGES } from './pages/index.js'

describe('pages', () => {
  it('have no inline script or style (the CSP forbids them) and escape what they embed', () => {
    for (const page of PAGES) {
      const html = pageHtml(page, {
        base: '/d/',
        csrf: '"><x',
        readOnly: false,
        protected: true,
        liveMs: 5000,
      })
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/)
      expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/)
      expect(html).toContain('data-csrf="&#34;&#62;&#60;x"')
      expect(html).toContain(`data-page="${page}"`)
    }
    expect(loginHtml('/d/', true)).toContain('Wrong token')
    expect(escapeHtml(`<a href="x">'&`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;')
  })

  it('the bundled assets are up to date with ui/ and uplot', () => {
    expect(Object.keys(ASSETS).sort()).toEqual(['app.css', 'app.js', 'uplot.css', 'uplot.js'])
    // Out of date: run `node --import tsx packages/dashboard/scripts/gen-assets.ts`.
    expect(readFileSync(fileURLToPath(new URL('./assets.generated.ts', import.meta.url)), 'utf8')).toBe(
      generate(),
    )
    expect(ASSETS['app.js']!.body).toBe(
      readFileSync(fileURLToPath(new URL('../ui/app.js', import.meta.url)), 'utf8'),
    )
  })
})

describe('charts', () => {
  it('windowOf: about 60 points, a step a multiple of 10 s', () => {
    expect(windowOf(300_000, 1_000_000)).toEqual({ from: 700_001, to: 1_000_001, step: 10_000 })
    expect(windowOf(86_400_000).step).toBe(1_440_000)
    expect(windowOf(3_600_000).step % 10_000).toBe(0)
  })

  it('ratio and total', () => {
    expect(ratio([3, 1, null])).toBe(0.75)
    expect(ratio([null, null])).toBeNull()
    expect(total([null, 2, 3])).toBe(5)
    expect(total([null, null])).toBeNull()
  })
})
