// A connection that answers the store's hot-path commands from a Map (the compaction script in JS), so that
// only the store's own JavaScript runs: see ab.mts (SOCKETS=0).
/* biome-ignore-all lint/suspicious/noExplicitAny: a fake of the Connection the store uses */
import type { KeyBuilder } from '@cache/client'

/** A fake Connection over a Map, with the key builder of a real one. */
export function fakeConnection(keys: KeyBuilder): any {
  const db = new Map<string, string>()
  const reply = (a: string[]): unknown => {
    const [cmd, key] = a as [string, string]
    switch (cmd) {
      case 'GET':
        return db.get(key) ?? null
      case 'SET':
        if (a.includes('NX') && db.has(key)) return null
        db.set(key, a[2]!)
        return 'OK'
      case 'APPEND': {
        const v = (db.get(key) ?? '') + a[2]
        db.set(key, v)
        return Buffer.byteLength(v)
      }
      case 'PEXPIREAT':
        return db.has(key) ? 1 : 0
      default:
        return 1
    }
  }
  const cas = (k: string[], args: string[]) => {
    const v = db.get(k[0]!)
    if (v === undefined) return -1
    if (Buffer.byteLength(v) !== Number(args[0]) || !v.startsWith(args[1]!)) return 0
    db.set(k[0]!, args[2] === 'a' ? v + args[3] : args[3]!)
    return 1
  }
  return {
    keys,
    send: (a: string[]) => Promise.resolve(reply(a)),
    defineScript: (name: string) =>
      name === 'session:cas'
        ? (k: string[], a: string[]) => Promise.resolve(cas(k, a))
        : () => Promise.resolve(1),
  }
}
