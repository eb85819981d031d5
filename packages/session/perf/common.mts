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
