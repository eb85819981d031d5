#!/usr/bin/env node
// Builds the package in the current directory twice, ESM (dist/esm) and CommonJS (dist/cjs), with tsc,
// so consumers can `import` and `require()` it on every Node >= 20 without require(esm). The root
// templates use ${configDir}, which TypeScript resolves against the config given to -p, so a one-line
// config extending each template is written into the package (and ignored by git).
import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
rmSync('dist', { recursive: true, force: true })
for (const flavour of ['esm', 'cjs']) {
  const file = `tsconfig.build.${flavour}.generated.json`
  const template = relative(process.cwd(), join(root, `tsconfig.build.${flavour}.json`))
  writeFileSync(file, `${JSON.stringify({ extends: template })}\n`)
  try {
    execFileSync(process.execPath, [tsc, '-p', file], { stdio: 'inherit' })
  } finally {
    rmSync(file, { force: true })
  }
  writeFileSync(
    `dist/${flavour}/package.json`,
    `${JSON.stringify({ type: flavour === 'esm' ? 'module' : 'commonjs' })}\n`,
  )
}
