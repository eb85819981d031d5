// Server CPU per 100-entry write (INFO cpu) for mset.lua variants (the layout before 2026-12-08; 'one ttl,
// packed lengths' is close to the current one, which puts the lengths in front of the values; others tried)
// and raw pipelines, one call in flight at a time so the client's own load barely matters:
//   node --import tsx packages/core/perf/mset-server.mts        ROUNDS (6), CALLS per variant per round (1000)
import { setup } from './common.mjs'

const ROUNDS = Number(process.env.ROUNDS ?? 6)
const CALLS = Number(process.env.CALLS ?? 1000)
const N = 100
const TTL = '3600000'
const { raw, rawBuf, redisKeys, stop } = await setup()
const bytes = (await rawBuf.get(redisKeys[0] as string)) as unknown as Buffer
const keys = (i: number) => Array.from({ length: N }, (_, j) => `c:v:user:${(i * N + j) % 10_000}`)
const blob = Buffer.concat(Array.from({ length: N }, () => bytes))

const scripts: Record<string, string> = {
  'before (length and TTL per value)': `local n = tonumber(ARGV[1]) local blob = ARGV[2] local at = 1
for i = 1, n do local len = tonumber(ARGV[2 * i + 1])
redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ARGV[2 * i + 2]) at = at + len end return n`,
  'no sub (value per ARGV)': `local n = #KEYS
for i = 1, n do redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i]) end return n`,
  'sub, no PX': `local n = tonumber(ARGV[1]) local blob = ARGV[2] local at = 1
for i = 1, n do local len = tonumber(ARGV[2 * i + 1])
redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1)) at = at + len end return n`,
  'MSET + PEXPIRE': `local n = tonumber(ARGV[1]) local blob = ARGV[2] local at = 1 local kv = {}
for i = 1, n do local len = tonumber(ARGV[2 * i + 1])
kv[2 * i - 1] = KEYS[i] kv[2 * i] = string.sub(blob, at, at + len - 1) at = at + len end
redis.call('MSET', unpack(kv))
for i = 1, n do redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 2]) end return n`,
  'pcall SET': `local n = tonumber(ARGV[1]) local blob = ARGV[2] local at = 1
for i = 1, n do local len = tonumber(ARGV[2 * i + 1])
redis.pcall('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ARGV[2 * i + 2]) at = at + len end return n`,
  'empty loop (sub only)': `local n = tonumber(ARGV[1]) local blob = ARGV[2] local at = 1 local s
for i = 1, n do local len = tonumber(ARGV[2 * i + 1]) s = string.sub(blob, at, at + len - 1) at = at + len end return n`,
  'noop (same args)': 'return 1',
  'noop (value per ARGV)': 'return 1',
  'noop (keys, blob, ttl, packed lengths)': 'return 1',
  'one ttl, packed lengths': `local n = #KEYS local blob = ARGV[1] local ttl = ARGV[2] local lens = ARGV[3] local at = 1
for i = 1, n do local len = struct.unpack('>I4', lens, 4 * i - 3)
redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ttl) at = at + len end return n`,
  'one ttl, lengths per ARGV': `local n = #KEYS local blob = ARGV[1] local ttl = ARGV[2] local at = 1
for i = 1, n do local len = tonumber(ARGV[i + 2])
redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ttl) at = at + len end return n`,
  PSETEX: `local n = tonumber(ARGV[1]) local blob = ARGV[2] local at = 1
for i = 1, n do local len = tonumber(ARGV[2 * i + 1])
redis.call('PSETEX', KEYS[i], ARGV[2 * i + 2], string.sub(blob, at, at + len - 1)) at = at + len end return n`,
  'one ttl, packed lengths, PSETEX': `local n = #KEYS local blob = ARGV[1] local ttl = ARGV[2] local lens = ARGV[3] local at = 1
for i = 1, n do local len = struct.unpack('>I4', lens, 4 * i - 3)
redis.call('PSETEX', KEYS[i], ttl, string.sub(blob, at, at + len - 1)) at = at + len end return n`,
}
const packed = Buffer.alloc(4 * N)
for (let j = 0; j < N; j++) packed.writeUInt32BE(bytes.length, 4 * j)
const shas: Record<string, string> = {}
for (const [name, src] of Object.entries(scripts)) shas[name] = await raw.scriptLoad(src)

const blobArgs = (): string[] => {
  const a: string[] = [String(N), '']
  for (let j = 0; j < N; j++) a.push(String(bytes.length), TTL)
  return a
}
const variants: Record<string, (i: number) => Promise<unknown>> = {}
for (const name of Object.keys(scripts)) {
  variants[`lua ${name}`] = (i) => {
    const ks = keys(i)
    if (name === 'no sub (value per ARGV)' || name === 'noop (value per ARGV)') {
      const a: Array<string | Buffer> = []
      for (let j = 0; j < N; j++) a.push(bytes, TTL)
      return raw.evalSha(shas[name] as string, { keys: ks, arguments: a as string[] })
    }
    if (name.startsWith('one ttl') || name.startsWith('noop (keys')) {
      const a: Array<string | Buffer> = [blob, TTL]
      if (name === 'one ttl, lengths per ARGV') for (let j = 0; j < N; j++) a.push(String(bytes.length))
      else a.push(packed)
      return raw.evalSha(shas[name] as string, { keys: ks, arguments: a as string[] })
    }
    const a = blobArgs() as Array<string | Buffer>
    a[1] = blob
    return raw.evalSha(shas[name] as string, { keys: ks, arguments: a as string[] })
  }
}
variants['raw 100 PSETEX pipelined'] = (i) => {
  const m = raw.multi()
  for (const k of keys(i)) m.pSetEx(k, 3_600_000, bytes)
  return m.execAsPipeline()
}
variants['raw 100 SET PX pipelined'] = (i) => {
  const m = raw.multi()
  for (const k of keys(i)) m.set(k, bytes, { PX: 3_600_000 })
  return m.execAsPipeline()
}
variants['raw MSET (no TTL)'] = (i) => raw.mSet(keys(i).map((k) => [k, bytes] as [string, Buffer]))
variants['raw MSET + 100 PEXPIRE pipelined'] = (i) => {
  const ks = keys(i)
  const m = raw.multi().mSet(ks.map((k) => [k, bytes] as [string, Buffer]))
  for (const k of ks) m.pExpire(k, 3_600_000)
  return m.execAsPipeline()
}

async function serverCpuUs(): Promise<number> {
  const info = String(await raw.info('cpu'))
  const f = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0)
  return (f('used_cpu_user') + f('used_cpu_sys')) * 1e6
}
const res = new Map<string, number[]>()
const names = Object.keys(variants)
for (const n of names) for (let i = 0; i < 100; i++) await variants[n]?.(i)
for (let r = 0; r < ROUNDS; r++) {
  for (const n of r % 2 ? [...names].reverse() : names) {
    const s0 = await serverCpuUs()
    for (let i = 0; i < CALLS; i++) await variants[n]?.(i)
    const s1 = await serverCpuUs()
    const list = res.get(n) ?? []
    list.push((s1 - s0) / CALLS)
    res.set(n, list)
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
console.log(`server CPU us per ${N}-entry write, medians of ${ROUNDS} rounds of ${CALLS} sequential calls`)
for (const n of names) console.log(`${n.padEnd(34)} ${med(res.get(n) as number[]).toFixed(1)}`)
await stop()
process.exit(0)
