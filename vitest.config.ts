import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

/** Coverage floors per package: they only ever go up (the goal is 100%). */
export const coverageThresholds: Record<
  string,
  { lines: number; branches: number; functions: number; statements: number }
> = {
  'packages/client/src/**': { lines: 85, branches: 75, functions: 85, statements: 85 },
  'packages/metrics/src/**': { lines: 97, branches: 87, functions: 92, statements: 96 },
  'packages/tiered/src/**': { lines: 97, branches: 89, functions: 95, statements: 96 },
}

export default defineConfig({
  resolve: {
    // Tests run against package sources, not builds; the import/require test checks the builds.
    alias: [
      { find: /^@cache\/tools$/, replacement: `${root}tools/src/index.ts` },
      { find: /^@cache\/([a-z]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@cache\/([a-z]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
    ],
  },
  test: {
    pool: 'forks',
    // The JSON report feeds tools/src/gen-status.ts (status.json, summary.json).
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      exclude: ['**/*.test.ts', '**/*.test-d.ts', 'packages/*/src/scripts/index.ts'],
      reporter: ['text-summary', 'json-summary', 'json'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      thresholds: coverageThresholds,
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'tools/src/**/*.test.ts'],
          typecheck: { enabled: true, include: ['packages/*/src/**/*.test-d.ts'] },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'packages/*/test/**/*.int.test.ts',
            'tools/test/**/*.int.test.ts',
            'examples/*/test/**/*.int.test.ts',
          ],
          globalSetup: ['tools/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
