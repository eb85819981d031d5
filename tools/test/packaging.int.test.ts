import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const packages = readdirSync(join(root, 'packages')).filter((p) =>
  existsSync(join(root, 'packages', p, 'package.json')),
)

interface Manifest {
  name: string
  private?: boolean
  type?: string
  sideEffects?: boolean
  files?: string[]
  engines?: { node?: string }
  publishConfig?: { access?: string }
  exports?: Record<string, unknown>
}

function run(code: string, type: 'module' | 'commonjs'): string {
  // No custom conditions: this is what a consumer of the published package gets.
  return execFileSync(process.execPath, [`--input-type=${type}`, '-e', code], {
    cwd: root,
    encoding: 'utf8',
  }).trim()
}

describe.each(packages)('package %s', (dir) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest

  it('is publishable', () => {
    expect(manifest.name).toBe(`@cache/${dir}`)
    expect(manifest.private).not.toBe(true)
    expect(manifest.type).toBe('module')
    expect(manifest.sideEffects).toBe(false)
    expect(manifest.files).toContain('dist')
    expect(manifest.engines?.node).toMatch(/>=\s*20/)
    expect(manifest.publishConfig?.access).toBe('public')
    expect(existsSync(join(root, 'packages', dir, 'README.md'))).toBe(true)
  })

  const entries = Object.keys(manifest.exports ?? {}).filter((k) => k !== './package.json')
  it.each(entries)('entry %s loads with import and with require, with the same exports', (entry) => {
    const spec = entry === '.' ? manifest.name : `${manifest.name}/${entry.replace(/^\.\//, '')}`
    const esm = run(
      `const m = await import(${JSON.stringify(spec)}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))`,
      'module',
    )
    const cjs = run(
      `const m = require(${JSON.stringify(spec)}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort()))`,
      'commonjs',
    )
    const names = JSON.parse(esm) as string[]
    expect(names.length).toBeGreaterThan(0)
    expect(JSON.parse(cjs)).toEqual(names)
  })
})
