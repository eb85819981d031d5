export * from './harness/index.js'
export { uniquePrefix } from './testing.js'
