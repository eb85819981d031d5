// A child process of processes.int.test.ts: rotates a refresh token, or tries one-time codes, and prints
// the outcome as JSON on stdout, so the parent can check what several processes did together.
import { connect, isCacheError } from '@cache/client'
import { OneTimeCodes, RefreshTokens } from '../src/index.js'

const [url, namespace, mode, arg, count] = process.argv.slice(2) as [string, string, string, string, string]
const conn = await connect({ url, namespace })
const out: string[] = []
const code = (err: unknown) => (isCacheError(err) ? err.code : String(err))
if (mode === 'rotate') {
  // wait for the parent's go signal so both processes rotate at once
  const go = conn.keys.key('go')
  await conn.send(['BLPOP', go, '10'], { key: go, timeoutMs: 15_000 })
  out.push(await new RefreshTokens(conn).rotate(arg).then(() => 'ok', code))
} else {
  const otp = new OneTimeCodes(conn, { maxAttempts: 5, hashKey: 'shared-test-key-0123456789' })
  for (let i = 0; i < Number(count); i++) {
    out.push(await otp.verify(arg, `wrong-${process.pid}-${i}`).then(String, code))
  }
}
process.stdout.write(JSON.stringify(out))
await conn.close()
