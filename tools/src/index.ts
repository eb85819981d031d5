export * from './harness/index.js'
export type { SharedTopologies } from './provided.js'
export { uniquePrefix } from './testing.js'
