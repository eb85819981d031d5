// @cache/dashboard front end: plain browser JavaScript and uPlot (served by the package, no CDN).
// It renders what the live stream (Server-Sent Events) sends; charts are updated in place with setData.
;(() => {
  const body = document.body
  const page = body.dataset.page
  const csrf = body.dataset.csrf
  const readOnly = body.dataset.readOnly === 'true'
  const $ = (id) => document.getElementById(id)
  const el = (tag, props, ...children) => {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
      else if (k.startsWith('data-')) e.setAttribute(k, v)
      else e[k] = v
    }
    for (const c of children) e.append(c)
    return e
  }
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563']
  const plots = new Map()
  let lastContext = {}

  const rangeSelect = $('range')
  const saved =
    new URLSearchParams(location.search).get('range') || sessionStorage.getItem('cache-dashboard-range')
  if (saved && [...rangeSelect.options].some((o) => o.value === saved)) rangeSelect.value = saved

  function showError(message) {
    const e = $('error')
    e.textContent = message
    e.hidden = !message
  }

  function renderFigures(figures) {
    $('figures').replaceChildren(
      ...figures.map((f) =>
        el(
          'div',
          { class: `figure ${f.level || ''}` },
          el('span', { class: 'label' }, f.label),
          el('span', { class: 'value' }, f.value),
        ),
      ),
    )
  }

  function renderTables(tables) {
    $('tables').replaceChildren(
      ...tables.map((t) => {
        const rows = t.rows.length
          ? t.rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, String(c)))))
          : [el('tr', {}, el('td', { colSpan: t.columns.length, class: 'empty' }, 'nothing to show'))]
        if (t.id === 'queue-dlq' && !readOnly && t.rows.length) {
          for (const [i, tr] of rows.entries()) {
            const [queue, id] = t.rows[i]
            tr.append(
              el(
                'td',
                {},
                el(
                  'button',
                  {
                    class: 'replay-one',
                    'data-queue': queue,
                    'data-id': id,
                    onclick: () => act('dlq-replay', { queue, ids: [String(id)] }),
                  },
                  'replay',
                ),
              ),
            )
          }
        }
        return el(
          'div',
          { class: 'table', 'data-table': t.id },
          el('h2', {}, t.title),
          el(
            'table',
            {},
            el('thead', {}, el('tr', {}, ...t.columns.map((c) => el('th', {}, c)))),
            el('tbody', {}, ...rows),
          ),
        )
      }),
    )
  }

  function chartWidth() {
    return Math.max(280, Math.min(560, $('charts').clientWidth / (window.innerWidth > 1100 ? 2 : 1) - 24))
  }

  function renderCharts(charts) {
    for (const c of charts) {
      const data = [c.t, ...c.series.map((s) => s.values)]
      const points = c.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0)
      let entry = plots.get(c.id)
      const shape = c.series.map((s) => s.label).join('|')
      if (entry && entry.shape !== shape) {
        entry.plot.destroy()
        entry.box.remove()
        plots.delete(c.id)
        entry = undefined
      }
      if (!entry) {
        const box = el(
          'figure',
          { class: 'chart', 'data-chart': c.id },
          el('figcaption', {}, `${c.title} (${c.unit})`),
        )
        $('charts').append(box)
        const opts = {
          width: chartWidth(),
          height: 200,
          scales: { x: { time: true } },
          axes: [{}, { size: 56 }],
          series: [
            {},
            ...c.series.map((s, i) => ({
              label: s.label,
              stroke: COLORS[i % COLORS.length],
              width: 2,
              spanGaps: true,
            })),
          ],
        }
        const plot = new uPlot(opts, data, box)
        entry = { plot, box, shape }
        plots.set(c.id, entry)
      } else entry.plot.setData(data)
      entry.box.dataset.points = String(points)
    }
  }

  function renderActions(context) {
    const box = $('actions')
    if (readOnly) {
      box.replaceChildren()
      return
    }
    if (JSON.stringify(context) === JSON.stringify(lastContext) && box.childElementCount) return
    lastContext = context
    const forms = []
    if (page === 'queues' && (context.queues || []).some((q) => q.deadLetters > 0)) {
      const select = el(
        'select',
        { name: 'queue' },
        ...context.queues
          .filter((q) => q.deadLetters > 0)
          .map((q) => el('option', { value: q.name }, `${q.name} (${q.deadLetters})`)),
      )
      forms.push(
        form('replay-all', 'Replay every dead letter of', [select], () =>
          act('dlq-replay', { queue: select.value, all: true }),
        ),
      )
    }
    if (page === 'caches' && (context.caches || []).length) {
      const select = el(
        'select',
        { name: 'cache' },
        ...context.caches.map((c) => el('option', { value: c }, c)),
      )
      const tag = el('input', { name: 'tag', placeholder: 'tag', required: true })
      forms.push(
        form('invalidate-tag', 'Invalidate a tag in', [select, tag], () =>
          act('invalidate-tag', { cache: select.value, tag: tag.value }),
        ),
      )
    }
    if (page === 'sessions' && context.canRevoke) {
      const tenant = el('input', {
        name: 'tenant',
        placeholder: 'tenant',
        required: true,
        value: (context.tenants || [])[0] || '',
      })
      const user = el('input', { name: 'user', placeholder: 'user id', required: true })
      forms.push(
        form('revoke-user', "Revoke a user's sessions", [tenant, user], () =>
          act('revoke-user', { tenant: tenant.value, user: user.value }),
        ),
      )
    }
    box.replaceChildren(...forms)
  }

  function form(id, label, fields, run) {
    return el(
      'form',
      {
        class: 'action',
        'data-action': id,
        onsubmit: (ev) => {
          ev.preventDefault()
          run()
        },
      },
      el('span', {}, label),
      ...fields,
      el('button', { type: 'submit' }, 'Run'),
      el('output', { class: 'result' }),
    )
  }

  async function act(action, payload) {
    if (!window.confirm(`Run ${action} ${JSON.stringify(payload)}?`)) return
    const res = await fetch(`api/actions/${action}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(payload),
      credentials: 'same-origin',
    })
    const answer = await res.json().catch(() => ({}))
    const out = document.querySelector(`[data-action="${action}"] .result`) || $('actions')
    const text = res.ok ? `done: ${JSON.stringify(answer)}` : `failed: ${answer.error?.message || res.status}`
    if (out.tagName === 'OUTPUT') out.value = text
    body.dataset.lastAction = text
    showError(res.ok ? '' : text)
    if (res.ok) connect()
  }

  function render(data) {
    renderFigures(data.figures)
    renderActions(data.context)
    renderCharts(data.charts)
    renderTables(data.tables)
  }

  let source
  function connect() {
    if (source) source.close()
    const live = $('live')
    source = new EventSource(`api/live/${page}?range=${encodeURIComponent(rangeSelect.value)}`)
    source.addEventListener('data', (ev) => {
      const data = JSON.parse(ev.data)
      render(data)
      const seq = Number(live.dataset.seq) + 1
      live.dataset.seq = String(seq)
      live.textContent = `live · ${new Date(data.at).toLocaleTimeString()}`
      live.className = 'on'
      showError('')
    })
    source.addEventListener('failure', (ev) => showError(JSON.parse(ev.data).message))
    source.onerror = () => {
      live.textContent = 'reconnecting…'
      live.className = 'off'
    }
  }

  rangeSelect.addEventListener('change', () => {
    sessionStorage.setItem('cache-dashboard-range', rangeSelect.value)
    for (const { plot, box } of plots.values()) {
      plot.destroy()
      box.remove()
    }
    plots.clear()
    connect()
  })
  window.addEventListener('resize', () => {
    for (const { plot } of plots.values()) plot.setSize({ width: chartWidth(), height: 200 })
  })
  connect()
})()
