import type { ResolvedDashboardOptions } from '../options.js'
import { caches } from './caches.js'
import { limits } from './limits.js'
import { locks } from './locks.js'
import { overview } from './overview.js'
import type { PageData, PageName, PageReader } from './page.js'
import { queues } from './queues.js'
import { server } from './server.js'
import { sessions } from './sessions.js'

export { PAGES, type PageData, type PageName } from './page.js'

const READERS: Record<PageName, PageReader> = {
  overview,
  caches,
  limits,
  locks,
  queues,
  sessions,
  server,
}

/** Reads everything one page shows. */
export async function readPage(
  o: ResolvedDashboardOptions,
  page: PageName,
  rangeMs: number,
): Promise<PageData> {
  return { page, at: Date.now(), rangeMs, ...(await READERS[page](o, rangeMs)) }
}
