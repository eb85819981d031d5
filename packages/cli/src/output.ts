import { styleText } from 'node:util'

/** The streams and environment the command runs with (process's by default; tests pass their own). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

type Style = Parameters<typeof styleText>[0]

/**
 * Everything the commands print goes through here: results on stdout (JSON with `--json`, text otherwise),
 * notes and progress on stderr. Colours only when stdout is a terminal (and NO_COLOR is unset), progress
 * only when stderr is one, so pipes and scripts get plain, stable text.
 */
export class Output {
  readonly json: boolean
  readonly #io: CliIo
  readonly #colour: boolean
  readonly #progress: boolean
  #progressShown = false

  constructor(io: CliIo, json: boolean) {
    this.#io = io
    this.json = json
    this.#colour = !!io.stdout.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb'
    this.#progress = !!io.stderr.isTTY && !json
  }

  /** True when the result stream is a terminal (`stats --watch` redraws only then). */
  get interactive(): boolean {
    return !!this.#io.stdout.isTTY
  }

  /** Prints a command's result: `data` as one JSON line with `--json`, else the text `human()` returns. */
  result(data: unknown, human: () => string): void {
    this.clearProgress()
    this.#io.stdout.write(this.json ? `${JSON.stringify(data)}\n` : `${human()}\n`)
  }

  /** Raw text on stdout (the redraw of `stats --watch`). */
  write(text: string): void {
    this.#io.stdout.write(text)
  }

  /** A note for the operator on stderr (never part of the result). */
  note(text: string): void {
    this.clearProgress()
    this.#io.stderr.write(`${text}\n`)
  }

  /** Replaces the progress line on a terminal; does nothing elsewhere. */
  progress(text: string): void {
    if (!this.#progress) return
    this.#io.stderr.write(`\r\x1b[2K${text}`)
    this.#progressShown = true
  }

  clearProgress(): void {
    if (!this.#progressShown) return
    this.#io.stderr.write('\r\x1b[2K')
    this.#progressShown = false
  }

  /** `text` in a style on a colour terminal, unchanged elsewhere. */
  style(style: Style, text: string): string {
    // The decision is ours (io.stdout, NO_COLOR, TERM): styleText would otherwise check process.stdout.
    return this.#colour ? styleText(style, text, { validateStream: false }) : text
  }

  /** Green "ok" or red `problem`. */
  status(ok: boolean, problem = 'FAIL'): string {
    return ok ? this.style('green', 'ok') : this.style('red', problem)
  }
}

/** Left-aligned columns; the first row is the header. */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const text = rows.map((r) => r.map(String))
  const widths: number[] = []
  for (const r of text) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length)
  return text
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n')
}

/** 1536 -> '1.5 KiB'. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`
}

/** Milliseconds for a person: '850 ms', '12.3 s', '4m 05s', '2h 10m', '3d 4h'. */
export function formatMs(ms: number): string {
  if (ms < 0) return '-'
  if (ms < 1000) return `${Math.round(ms * 100) / 100} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}
