import { startStandalone } from '@cache/tools'

const s = await startStandalone()
console.log(s.url)
process.on('SIGTERM', async () => {
  await s.stop()
  process.exit(0)
})
setInterval(() => {}, 1000)
