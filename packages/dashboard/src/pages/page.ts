import type { Chart } from '../charts.js'
import type { ResolvedDashboardOptions } from '../options.js'

/** The pages, in the order of the navigation. */
export const PAGES = ['overview', 'caches', 'limits', 'locks', 'queues', 'sessions', 'server'] as const
/** One page of the dashboard. */
export type PageName = (typeof PAGES)[number]

/** What a page shows: figures, tables and charts (JSON over the API and the live stream). */
export interface PageData {
  page: PageName
  at: number
  rangeMs: number
  /** Headline figures (label -> value). */
  figures: Array<{ label: string; value: string; level?: 'ok' | 'warning' | 'critical' }>
  tables: Array<{ id: string; title: string; columns: string[]; rows: Array<Array<string | number>> }>
  charts: Chart[]
  /** Page-specific facts the actions need (queue names, cache names, tenants). */
  context: Record<string, unknown>
}

/** What one page's reader returns: the page without its name and times. */
export type PageBody = Omit<PageData, 'page' | 'at' | 'rangeMs'>

/** Reads one page over the last `rangeMs`. */
export type PageReader = (o: ResolvedDashboardOptions, rangeMs: number) => Promise<PageBody>
