// What the perf scripts share: express-session's store calls for one request (as the benchmark makes them).
/* biome-ignore-all lint/suspicious/noExplicitAny: a store of either kind, called as express-session does */

export const MAX_AGE = 30 * 60_000

/** A callback-style store call as a promise. */
export const call = <T,>(fn: (cb: (err?: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((res, rej) => fn((e, v) => (e ? rej(e) : res(v as T))))

/** A new session as the benchmark stores it. */
export const fresh = (userId: string) => ({
  cookie: { originalMaxAge: MAX_AGE, expires: new Date(Date.now() + MAX_AGE), httpOnly: true, path: '/' },
  views: 0,
  userId,
  cart: [1, 2, 3],
})

/** One express-session request with `rolling: true`: load, then save when changed, else touch. */
export function request(store: any, sid: string, change: boolean): Promise<void> {
  return call<any>((cb) => store.get(sid, cb)).then((sess) => {
    sess.cookie.expires = new Date(Date.now() + MAX_AGE)
    if (!change) return call((cb) => store.touch(sid, sess, cb))
    sess.views++
    return call((cb) => store.set(sid, sess, cb))
  })
}

/** `n` calls of `fn` by `c` workers. */
export async function inParallel(n: number, c: number, fn: (i: number) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) await fn(next++)
    }),
  )
}

/** 1000 session ids as the benchmark makes them. */
export const sessionIds = (): string[] =>
  Array.from({ length: 1000 }, (_, i) => `sid-${i}-${Math.random().toString(36).slice(2, 18)}`)

/** Stores each id as a new session (user `u<i % 100>`). */
export const seed = (store: any, sids: string[]) =>
  inParallel(sids.length, 32, (i) => call((cb) => store.set(sids[i]!, fresh(`u${i % 100}`), cb)))

/** The id worker `i % 64` requests next (each worker walks its own stride of the 1000). */
export const sidOf = (sids: string[], i: number): string => sids[((i % 64) * 131 + i) % sids.length]!

/** The request kinds of the A/B scripts; `KINDS=set,touch,enc-set,enc-touch` picks some. */
export const requestKinds = () => {
  const only = (process.env.KINDS ?? 'set,touch,enc-set,enc-touch').split(',')
  return [
    { name: 'get + set', kind: 'set', change: true, enc: false },
    { name: 'get + touch', kind: 'touch', change: false, enc: false },
    { name: 'encrypted get + set', kind: 'enc-set', change: true, enc: true },
    { name: 'encrypted get + touch', kind: 'enc-touch', change: false, enc: true },
  ].filter((k) => only.includes(k.kind))
}

/**
 * Client CPU per request (user + system, µs) of each store over `rounds` rounds of `n` requests (the order
 * rotated and reversed so that each store runs in each position as often; `rounds` a multiple of twice the stores)
 * at c=64 (after a warm-up of n / 4 each; with --expose-gc a full GC before each round, so that no round pays
 * for the garbage of the one before): per store, the median and the range, and for each store after the
 * first the median of its round-by-round ratio to the first.
 */
export async function alternate(
  stores: Record<string, any>,
  change: boolean,
  sids: string[],
  n: number,
  rounds: number,
): Promise<string> {
  const gc = (globalThis as { gc?: () => void }).gc
  const cpu: Record<string, number[]> = {}
  for (const name in stores) {
    cpu[name] = []
    await inParallel(n / 4, 64, (i) => request(stores[name], sidOf(sids, i), change))
  }
  const all = Object.keys(stores)
  for (let r = 0; r < rounds; r++) {
    // Every store in every position in turn (the one measured after a given other one pays for its state).
    const names = [...all.slice(r % all.length), ...all.slice(0, r % all.length)]
    if (Math.floor(r / all.length) % 2) names.reverse()
    for (const name of names) {
      gc?.()
      const c0 = process.cpuUsage()
      await inParallel(n, 64, (i) => request(stores[name], sidOf(sids, i), change))
      const c = process.cpuUsage(c0)
      cpu[name]!.push((c.user + c.system) / n)
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  // Each store against the first one round by round (a load change hits both of a round about alike).
  const first = cpu[all[0]!]!
  const paired = (xs: number[]) => median(xs.map((x, r) => x / first[r]!)).toFixed(3)
  return Object.entries(cpu)
    .map(
      ([name, xs], i) =>
        `${name} ${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}${i ? `, x${paired(xs)} paired` : ''})`,
    )
    .join(', ')
}
