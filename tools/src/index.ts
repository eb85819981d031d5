export { browserSkipReason, chromiumPath, launchChromium } from './browser.js'
export * from './harness/index.js'
export type { SharedTopologies } from './provided.js'
export { codeOf, codeOfSync, uniquePrefix } from './testing.js'
