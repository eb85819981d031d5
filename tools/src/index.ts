export * from './harness/index.js'
export type { SharedTopologies } from './provided.js'
export { codeOf, codeOfSync, uniquePrefix } from './testing.js'
