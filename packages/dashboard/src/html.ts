import { DEFAULT_RANGE, RANGES } from './defaults.js'
import { PAGES, type PageName } from './pages/index.js'

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const TITLES: Record<PageName, string> = {
  overview: 'Overview',
  caches: 'Caches',
  limits: 'Rate limits',
  locks: 'Locks',
  queues: 'Queues',
  sessions: 'Sessions',
  server: 'Server',
}

function head(title: string, base: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<base href="${escapeHtml(base)}">
<title>${escapeHtml(title)} · @cache dashboard</title>
<link rel="stylesheet" href="assets/uplot.css"><link rel="stylesheet" href="assets/app.css">
</head>`
}

/** The shell of one page: navigation, range picker, and empty sections the script fills from the live stream. */
export function pageHtml(
  page: PageName,
  o: { base: string; csrf: string; readOnly: boolean; protected: boolean; liveMs: number },
): string {
  const nav = PAGES.map(
    (p) =>
      `<a href="${p === 'overview' ? './' : p}"${p === page ? ' aria-current="page"' : ''}>${TITLES[p]}</a>`,
  ).join('')
  const ranges = Object.keys(RANGES)
    .map((r) => `<option value="${r}"${r === DEFAULT_RANGE ? ' selected' : ''}>${r}</option>`)
    .join('')
  return `${head(TITLES[page], o.base)}
<body data-page="${page}" data-csrf="${escapeHtml(o.csrf)}" data-read-only="${o.readOnly}" data-live-ms="${o.liveMs}">
<header><strong>@cache</strong><nav>${nav}</nav>
<label>range <select id="range">${ranges}</select></label>
<span id="live" data-seq="0" title="live updates over Server-Sent Events">connecting…</span>
${o.protected ? '<form method="post" action="logout"><button type="submit">Log out</button></form>' : ''}
</header>
<main>
<h1>${TITLES[page]}${o.readOnly ? ' <small>(read-only)</small>' : ''}</h1>
<section id="figures" class="figures"></section>
<section id="actions"></section>
<section id="charts" class="charts"></section>
<section id="tables"></section>
<p id="error" role="alert" hidden></p>
</main>
<script src="assets/uplot.js"></script><script src="assets/app.js"></script>
</body></html>
`
}

/** The login form (shown with 401 when a token is set and the request has none). */
export function loginHtml(base: string, failed: boolean): string {
  return `${head('Log in', base)}
<body class="login"><main>
<h1>@cache dashboard</h1>
<form method="post" action="login">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
${failed ? '<p role="alert">Wrong token.</p>' : ''}
</form></main></body></html>
`
}
