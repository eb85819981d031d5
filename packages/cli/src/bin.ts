#!/usr/bin/env node
import { run } from './cli.js'

const controller = new AbortController()
// The first Ctrl-C stops a scan or a watch cleanly (it prints where it stopped); the second exits at once.
process.once('SIGINT', () => {
  controller.abort()
  process.once('SIGINT', () => process.exit(130))
})
void run(process.argv.slice(2), undefined, controller.signal).then((code) => {
  process.exitCode = code
})
