// Headless Chromium for the tests of web pages (STYLE.md: every web page is tested in a real browser).
// Debian's `chromium` package (.ci/run installs it) driven by playwright-core, which downloads no browser.
import { existsSync } from 'node:fs'
import type { Browser, LaunchOptions } from 'playwright-core'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

/** The Chromium executable: CHROMIUM_PATH, else the first of the usual Debian paths that exists. */
export function chromiumPath(): string | undefined {
  const env = process.env.CHROMIUM_PATH
  if (env) return existsSync(env) ? env : undefined
  return CANDIDATES.find((p) => existsSync(p))
}

/**
 * Why browser tests cannot run here, or undefined when they can. In CI a missing Chromium is an error
 * (thrown), never a skip: `describe.skipIf(browserSkipReason())`.
 */
export function browserSkipReason(): string | undefined {
  if (chromiumPath()) return undefined
  const reason =
    'Chromium not found (set CHROMIUM_PATH or `apt-get install -y chromium`): browser tests skipped'
  if (process.env.CI) throw new Error(`${reason.split(':')[0]}, and CI must run the browser tests`)
  console.warn(reason)
  return reason
}

/** Launches headless Chromium (no sandbox: CI containers run as root). Close it with `browser.close()`. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const executablePath = chromiumPath()
  if (!executablePath)
    throw new Error('Chromium not found: set CHROMIUM_PATH or `apt-get install -y chromium`')
  const { chromium } = await import('playwright-core')
  return chromium.launch({
    headless: true,
    ...options,
    executablePath,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', ...(options.args ?? [])],
  })
}
