import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { uniquePrefix } from '../src/index.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const tmp = join(root, '.vitest-tmp', uniquePrefix('docs'))

/** Markdown files under `dir`, recursively, as paths relative to the root. */
function markdownUnder(dir: string): string[] {
  if (!existsSync(join(root, dir))) return []
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md') && !f.split('/').includes('node_modules'))
    .map((f) => `${dir}/${f}`)
    .sort()
}

/** The documents whose ```ts blocks are promises: the root README, every package README, docs/**. */
function documents(): string[] {
  return [
    'README.md',
    ...readdirSync(join(root, 'packages'))
      .sort()
      .map((p) => `packages/${p}/README.md`),
    ...markdownUnder('docs'),
  ].filter((f) => existsSync(join(root, f)))
}

interface Block {
  name: string
  code: string
  fragment: boolean
}

/**
 * Every ```ts block (any info string starting with `ts`). A block fenced ```ts fragment is not run, on
 * purpose: it cannot run alone (a snippet of a framework app, a type signature); everything else runs.
 */
function blocks(): Block[] {
  const out: Block[] = []
  for (const file of documents()) {
    const text = readFileSync(join(root, file), 'utf8')
    let i = 0
    for (const m of text.matchAll(/^```ts([^\n]*)\n([\s\S]*?)^```/gm)) {
      const info = m[1]!.trim().split(/\s+/)
      const line = text.slice(0, m.index).split('\n').length
      out.push({ name: `${file}:${line} #${++i}`, code: m[2]!, fragment: info.includes('fragment') })
    }
  }
  return out
}

describe('documentation examples run against a real server', () => {
  mkdirSync(tmp, { recursive: true })
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  const all = blocks()
  const runnable = all.filter((b) => !b.fragment)
  const fragments = all.filter((b) => b.fragment)
  // Said out loud, so that a growing number of skipped blocks is noticed.
  console.log(
    `docs examples: ${all.length} \`\`\`ts blocks, ${runnable.length} run, ${fragments.length} skipped as \`\`\`ts fragment${
      fragments.length ? `:\n  ${fragments.map((b) => b.name).join('\n  ')}` : ''
    }`,
  )

  it('finds examples to run', () => {
    expect(runnable.length).toBeGreaterThan(0)
  })

  it.each(runnable)('$name', async ({ name, code }) => {
    const file = join(tmp, `${name.replace(/[^a-z0-9]+/gi, '-')}.ts`)
    writeFileSync(file, code)
    const { standalone } = inject('redis')
    const { stdout } = await run(
      process.execPath,
      ['--conditions=@cache/source', '--import', 'tsx', relative(root, file)],
      {
        cwd: root,
        env: { ...process.env, REDIS_URL: standalone.url, REDIS_NAMESPACE: uniquePrefix('doc') },
        timeout: 30_000,
      },
    )
    expect(stdout.length, 'an example prints something').toBeGreaterThan(0)
  })
})
