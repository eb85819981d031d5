import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const execFileAsync = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const packages = readdirSync(join(root, 'packages')).filter((p) =>
  existsSync(join(root, 'packages', p, 'package.json')),
)

interface Manifest {
  name: string
  version: string
  private?: boolean
  type?: string
  sideEffects?: boolean
  files?: string[]
  main?: string
  module?: string
  types?: string
  engines?: { node?: string }
  publishConfig?: { access?: string }
  exports?: Record<string, unknown>
  license?: string
  repository?: { type?: string; url?: string; directory?: string }
  homepage?: string
  bugs?: { url?: string }
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}

const read = (file: string): Manifest => JSON.parse(readFileSync(join(root, file), 'utf8')) as Manifest
const rootManifest = read('package.json')
const clientVersion = read('packages/client/package.json').version
const repoUrl = (rootManifest.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '')

/** True when `version` satisfies the caret range `range` (the only range shape the family uses). */
function caretSatisfies(range: string, version: string): boolean {
  const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range)
  if (!m) return false
  const [maj, min, pat] = m.slice(1).map(Number) as [number, number, number]
  const [vmaj, vmin, vpat] = version.split('.').map(Number) as [number, number, number]
  if (vmaj !== maj) return false
  if (maj === 0) return vmin === min && vpat >= pat
  return vmin > min || (vmin === min && vpat >= pat)
}

/** Every file an exports map (any condition, any depth) points at. */
function targets(node: unknown): string[] {
  if (typeof node === 'string') return [node]
  if (node && typeof node === 'object') return Object.values(node).flatMap(targets)
  return []
}

function run(code: string, type: 'module' | 'commonjs'): string {
  // No custom conditions: this is what a consumer of the published package gets.
  return execFileSync(process.execPath, [`--input-type=${type}`, '-e', code], {
    cwd: root,
    encoding: 'utf8',
  }).trim()
}

describe('the workspace root', () => {
  it('has the MIT LICENSE, repository metadata and the one engines.node', () => {
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/)
    expect(rootManifest.license).toBe('MIT')
    expect(rootManifest.repository?.url).toMatch(/^git\+https:\/\/.+\.git$/)
    expect(rootManifest.engines?.node).toMatch(/^>=20\.\d+$/)
  })
})

describe.each(packages)('package %s', (dir) => {
  const manifest = read(`packages/${dir}/package.json`)
  const pkgDir = join(root, 'packages', dir)

  it('is publishable', () => {
    expect(manifest.name).toBe(`@cache/${dir}`)
    expect(manifest.private).not.toBe(true)
    expect(manifest.type).toBe('module')
    expect(manifest.sideEffects).toBe(false)
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'README.md', 'CHANGELOG.md', 'LICENSE']))
    expect(manifest.publishConfig?.access).toBe('public')
    expect(existsSync(join(pkgDir, 'README.md'))).toBe(true)
    expect(existsSync(join(pkgDir, 'CHANGELOG.md'))).toBe(true)
  })

  it('has the family engines.node (the root one)', () => {
    expect(manifest.engines?.node).toBe(rootManifest.engines?.node)
  })

  it('has license, repository (with directory), homepage and bugs', () => {
    expect(manifest.license).toBe('MIT')
    expect(readFileSync(join(pkgDir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'))
    expect(manifest.repository).toEqual({
      type: 'git',
      url: rootManifest.repository?.url,
      directory: `packages/${dir}`,
    })
    expect(manifest.homepage).toBe(`${repoUrl}/tree/main/packages/${dir}#readme`)
    expect(manifest.bugs?.url).toBe(`${repoUrl}/issues`)
  })

  it('declares types for every export, for import and for require', () => {
    const entries = Object.entries(manifest.exports ?? {}).filter(([k]) => k !== './package.json')
    expect(entries.length).toBeGreaterThan(0)
    for (const [entry, conditions] of entries) {
      const c = conditions as Record<string, Record<string, string>>
      expect(c.import?.types, `${entry} import.types`).toMatch(/\.d\.ts$/)
      expect(c.require?.types, `${entry} require.types`).toMatch(/\.d\.ts$/)
    }
  })

  it.skipIf(dir === 'client')(
    'has @cache/client as a peer dependency (and a workspace devDependency)',
    () => {
      expect(manifest.dependencies?.['@cache/client']).toBeUndefined()
      const range = manifest.peerDependencies?.['@cache/client'] ?? ''
      expect(caretSatisfies(range, clientVersion), `peer range ${range} vs client ${clientVersion}`).toBe(
        true,
      )
      expect(manifest.devDependencies?.['@cache/client']).toBe('*')
    },
  )

  it('publishes every file its exports, main, module and types point at, and no tests', async () => {
    const { stdout } = await execFileAsync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: pkgDir,
      encoding: 'utf8',
    })
    const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
    const published = new Set(pack!.files.map((f) => f.path))
    const wanted = [
      ...targets(manifest.exports),
      ...[manifest.main, manifest.module, manifest.types].filter((f): f is string => !!f),
    ].map((f) => f.replace(/^\.\//, ''))
    // The `@cache/source` condition (workspace development) points into src/, which is published too.
    expect(wanted.some((f) => f.startsWith('src/'))).toBe(true)
    for (const file of wanted) expect(published.has(file), `${file} is in the tarball`).toBe(true)
    for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json'])
      expect(published.has(file)).toBe(true)
    expect([...published].filter((f) => /\.test(-d)?\.ts$|(^|\/)test\//.test(f))).toEqual([])
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
