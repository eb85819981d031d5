/** Most commands one mset/mget/scan batch has in flight at once (node-redis bounds its command queue). */
export const SLICE = 256

/** Runs `fn` over `items`, at most SLICE at a time. */
export async function inSlices<I>(items: readonly I[], fn: (item: I) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += SLICE) await Promise.all(items.slice(i, i + SLICE).map(fn))
}

/** Maps `items` through `fn`, at most SLICE at a time, keeping order. */
export async function mapSlices<I, R>(items: readonly I[], fn: (item: I) => Promise<R>): Promise<R[]> {
  const out: R[] = []
  for (let i = 0; i < items.length; i += SLICE)
    out.push(...(await Promise.all(items.slice(i, i + SLICE).map(fn))))
  return out
}
