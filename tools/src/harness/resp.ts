import { Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

/** An error reply (`-ERR ...`) from a server. */
export class RespError extends Error {
  override name = 'RespError'
}

export type RespReply = string | number | null | RespReply[]

const CRLF = '\r\n'

function encode(args: ReadonlyArray<string | number>): string {
  let out = `*${args.length}${CRLF}`
  for (const arg of args) {
    const s = String(arg)
    out += `$${Buffer.byteLength(s)}${CRLF}${s}${CRLF}`
  }
  return out
}

/** Parses one RESP2 reply from `buf` at `pos`; returns undefined when more bytes are needed. */
function parse(buf: Buffer, pos: number): { value: RespReply | RespError; next: number } | undefined {
  const end = buf.indexOf(CRLF, pos)
  if (end < 0) return undefined
  const type = String.fromCharCode(buf[pos] ?? 0)
  const line = buf.toString('utf8', pos + 1, end)
  switch (type) {
    case '+':
      return { value: line, next: end + 2 }
    case '-':
      return { value: new RespError(line), next: end + 2 }
    case ':':
      return { value: Number(line), next: end + 2 }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, next: end + 2 }
      if (buf.length < end + 2 + len + 2) return undefined
      return { value: buf.toString('utf8', end + 2, end + 2 + len), next: end + 2 + len + 2 }
    }
    case '*': {
      const len = Number(line)
      if (len < 0) return { value: null, next: end + 2 }
      const items: RespReply[] = []
      let next = end + 2
      for (let i = 0; i < len; i++) {
        const item = parse(buf, next)
        if (!item) return undefined
        if (item.value instanceof RespError) throw item.value
        items.push(item.value)
        next = item.next
      }
      return { value: items, next }
    }
    default:
      throw new RespError(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

/** How the harness reaches a node: credentials and TLS, when the node requires them. */
export interface RespConnectOptions {
  host?: string
  timeoutMs?: number
  /** AUTH before the command: `[password]` or `[username, password]`. */
  auth?: string[]
  /** Connect with TLS, trusting this CA (PEM). */
  tlsCa?: string
}

/**
 * Sends one command over a fresh TCP (or TLS) connection and returns the reply. The harness uses this
 * instead of the library under test, so a bug in @cache/client can never make the harness lie.
 */
export function respCommand(
  port: number,
  args: ReadonlyArray<string | number>,
  { host = '127.0.0.1', timeoutMs = 3000, auth, tlsCa }: RespConnectOptions = {},
): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    let skip = auth ? 1 : 0
    const socket = tlsCa ? tlsConnect({ port, host, ca: tlsCa, servername: 'localhost' }) : new Socket()
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new RespError(`timeout after ${timeoutMs}ms: ${args[0]} on port ${port}`))
    }, timeoutMs)
    const finish = (err: Error | undefined, value?: RespReply) => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(value ?? null)
    }
    socket.once('error', (err) => finish(err))
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      try {
        for (;;) {
          const parsed = parse(buf, 0)
          if (!parsed) return
          buf = buf.subarray(parsed.next)
          if (parsed.value instanceof RespError) return finish(parsed.value)
          if (skip > 0) {
            skip--
            continue
          }
          return finish(undefined, parsed.value)
        }
      } catch (err) {
        finish(err as Error)
      }
    })
    const send = () => socket.write((auth ? encode(['AUTH', ...auth]) : '') + encode(args))
    if (tlsCa) socket.once('secureConnect', send)
    else (socket as Socket).connect(port, host, send)
  })
}

/** Parses `INFO` output into a flat record. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(CRLF)) {
    const i = line.indexOf(':')
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/** Turns a flat `[k1, v1, k2, v2]` reply (SENTINEL MASTERS and friends) into a record. */
export function pairs(reply: RespReply): Record<string, string> {
  const out: Record<string, string> = {}
  if (!Array.isArray(reply)) return out
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
  return out
}
