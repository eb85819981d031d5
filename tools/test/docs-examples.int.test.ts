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

/** Every ```ts example block of the READMEs and docs: these are the examples we promise work. */
function examples(): Array<{ name: string; code: string }> {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'packages')).map((p) => `packages/${p}/README.md`),
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ].filter((f) => existsSync(join(root, f)))
  const out: Array<{ name: string; code: string }> = []
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8')
    let i = 0
    for (const m of text.matchAll(/```ts example\n([\s\S]*?)```/g))
      out.push({ name: `${file} #${++i}`, code: m[1]! })
  }
  return out
}

describe('documentation examples run against a real server', () => {
  mkdirSync(tmp, { recursive: true })
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  const list = examples()

  it('finds examples to run', () => {
    expect(list.length).toBeGreaterThan(0)
  })

  it.each(list)('$name', async ({ name, code }) => {
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
    expect(stdout.length).toBeGreaterThan(0)
  })
})
