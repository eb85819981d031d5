/**
 * One SVG bar chart per suite (benchmarks/results/<suite>.svg): for every ratio target, our bar beside the
 * baseline's (the peer or the raw client, normalised to 1.0), with the target marked. No dependency: the
 * markup is small and the results README embeds the files.
 */
import type { RatioResult } from './lib.js'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The SVG for one suite's ratios. */
export function ratioChart(suite: string, ratios: readonly RatioResult[], noisy: boolean): string {
  const rowH = 34
  const labelW = 520
  const barW = 360
  const top = 44
  const height = top + ratios.length * rowH + 30
  const width = labelW + barW + 90
  // Scale: the largest of the values, targets and the baseline (1), capped so one 36x ratio does not flatten the rest.
  const max =
    Math.round(Math.min(4, Math.max(1.25, ...ratios.map((r) => Math.max(r.value, r.target)))) * 100) / 100
  const x = (v: number) => Math.round((labelW + (Math.min(v, max) / max) * barW) * 10) / 10
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(suite)}: @cache (coloured) vs baseline (grey = 1.0)${noisy ? ' — NOISY RUN' : ''}</text>`,
    `<text x="10" y="36" fill="#555">ratio of the two, measured in the same run; the black line marks the target; the scale ends at ${max}x (longer bars are clipped)</text>`,
  ]
  ratios.forEach((r, i) => {
    const y = top + i * rowH
    const colour = r.pass ? '#2a9d4b' : '#d1495b'
    const label = r.name.length > 84 ? `${r.name.slice(0, 81)}…` : r.name
    out.push(
      `<text x="10" y="${y + 16}">${esc(label)}</text>`,
      `<rect x="${labelW}" y="${y + 2}" width="${Math.round((x(1) - labelW) * 10) / 10}" height="11" fill="#bbb"/>`,
      `<rect x="${labelW}" y="${y + 14}" width="${Math.max(1, Math.round((x(r.value) - labelW) * 10) / 10)}" height="11" fill="${colour}"/>`,
      `<line x1="${x(r.target)}" x2="${x(r.target)}" y1="${y}" y2="${y + 28}" stroke="#000" stroke-width="2"/>`,
      `<text x="${Math.min(width - 60, Math.round(x(r.value) + 6))}" y="${y + 24}">${r.value}${r.lowerIsBetter ? ' (≤)' : ''}</text>`,
    )
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
