// Run: node --conditions=@cache/source --import tsx packages/session/perf/seal.mts
// CPU of sealing one appended chunk (what an encrypted save adds to a plain one), and of JSON.stringify of a
// session (connect-redis's save), per call.
import { randomBytes } from 'node:crypto'
import { Keyring } from '@cache/security'
import { FieldCipher } from '../src/field-cipher.js'

const cipher = new FieldCipher(new Keyring({ keys: [{ id: 'k1', key: randomBytes(32), status: 'primary' }] }))
const key = `bench-sess:enc:t:b:{${randomBytes(32).toString('base64url').slice(0, 43)}}`
const chunk = '{"w":1796334723567,"s":{"views":1}}'
const sess = {
  cookie: { originalMaxAge: 1800000, httpOnly: true, path: '/' },
  views: 1,
  userId: 'u66',
  cart: [1, 2, 3],
}
const time = (n: number, fn: (i: number) => unknown) => {
  for (let i = 0; i < n / 10; i++) fn(i)
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) fn(i)
  const c = process.cpuUsage(c0)
  return ((c.user + c.system) / n).toFixed(2)
}
for (let r = 0; r < 3; r++) {
  console.log(
    'seal of one chunk us',
    time(50_000, (i) => cipher.seal(key, `s2|${i}|1`, chunk)),
    ' JSON.stringify of a session us',
    time(200_000, () => JSON.stringify(sess)),
  )
}
