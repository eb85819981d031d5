import { hashSlot } from '@cache/client'
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
  if (keys.length === 0) return []
  const t0 = performance.now()
  const rks = keys.map((k) => ctx.keys.value(k))
  const raws: Array<Buffer | null> = new Array(keys.length).fill(null)
  const groups = new Map<number, number[]>()
  if (ctx.cluster) {
    for (let i = 0; i < rks.length; i++) {
      const slot = hashSlot(rks[i] as string)
      const g = groups.get(slot)
      if (g) g.push(i)
      else groups.set(slot, [i])
    }
  } else
    groups.set(
      0,
      rks.map((_, i) => i),
    )
  try {
    await inSlices([...groups.values()], async (idx) => {
      const reply = await ctx.conn.send<Array<Buffer | null>>(['MGET', ...idx.map((i) => rks[i] as string)], {
        key: rks[idx[0] as number],
        buffers: true,
      })
      for (let j = 0; j < idx.length; j++) raws[idx[j] as number] = reply[j] ?? null
    })
  } catch (err) {
    throw ctx.fail(err)
  }
  const out = keys.map((k, i) => settle(ctx, k, raws[i] ?? null))
  ctx.stats.latency(performance.now() - t0)
  return out
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
