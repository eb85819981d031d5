import { type Arg, hashSlot } from '@cache/client'
import type { ValueWithTtl } from './cache.js'
import type { RedisCacheContext } from './redis-cache-context.js'
import { inSlices } from './slices.js'
import { checkKey, checkList } from './ttl.js'

/** Decodes one stored value and, when `count`, counts the hit or miss (and publishes `cache:core:get`). */
export function settle<T>(
  ctx: RedisCacheContext<T>,
  key: string,
  raw: Buffer | null,
  count = true,
): T | undefined {
  let value: T | undefined
  try {
    value = ctx.decode(key, raw)
  } catch (err) {
    throw ctx.fail(err)
  }
  if (count) ctx.stats.read(value !== undefined, ctx.namespace, 'redis')
  return value
}

/** Reads many keys: one MGET (per slot on a cluster, in slices); order kept, misses undefined. */
export async function readMany<T>(
  ctx: RedisCacheContext<T>,
  keys: readonly string[],
): Promise<Array<T | undefined>> {
  checkList(keys, 'keys')
  const n = keys.length
  if (n === 0) return []
  const t0 = performance.now()
  // The MGET's arguments are built with the keys: no per-key index lists or spreads on one server.
  const args: Arg[] = new Array(n + 1)
  args[0] = 'MGET'
  for (let i = 0; i < n; i++) args[i + 1] = ctx.keys.value(keys[i] as string)
  let raws: ReadonlyArray<Buffer | null>
  try {
    raws = ctx.cluster
      ? await readBySlot(ctx, args.slice(1) as string[])
      : await ctx.conn.send<Array<Buffer | null>>(args, { key: args[1], buffers: true })
  } catch (err) {
    throw ctx.fail(err)
  }
  const out = new Array<T | undefined>(n)
  for (let i = 0; i < n; i++) out[i] = settle(ctx, keys[i] as string, raws[i] ?? null)
  ctx.stats.latency(performance.now() - t0)
  return out
}

/** A cluster's MGETs: one per slot of `rks`, in slices; the replies in the order of `rks`. */
async function readBySlot<T>(
  ctx: RedisCacheContext<T>,
  rks: readonly string[],
): Promise<Array<Buffer | null>> {
  const raws: Array<Buffer | null> = new Array(rks.length).fill(null)
  const groups = new Map<number, number[]>()
  for (let i = 0; i < rks.length; i++) {
    const slot = hashSlot(rks[i] as string)
    const g = groups.get(slot)
    if (g) g.push(i)
    else groups.set(slot, [i])
  }
  await inSlices([...groups.values()], async (idx) => {
    const reply = await ctx.conn.send<Array<Buffer | null>>(['MGET', ...idx.map((i) => rks[i] as string)], {
      key: rks[idx[0] as number],
      buffers: true,
    })
    for (let j = 0; j < idx.length; j++) raws[idx[j] as number] = reply[j] ?? null
  })
  return raws
}

/** A value with its remaining TTL, in one script call. */
export async function readWithTtl<T>(
  ctx: RedisCacheContext<T>,
  key: string,
): Promise<ValueWithTtl<T> | undefined> {
  const rk = ctx.keys.value(checkKey(key))
  const t0 = performance.now()
  let reply: [Buffer | null, number]
  try {
    reply = await ctx.scripts.getWithTtl([rk])
  } catch (err) {
    throw ctx.fail(err)
  }
  const value = settle(ctx, key, reply[0])
  ctx.stats.latency(performance.now() - t0)
  if (value === undefined) return undefined
  return { value, ttl: reply[1] < 0 ? Number.POSITIVE_INFINITY : reply[1] }
}
