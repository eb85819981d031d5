import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { type CapturedResponse, headerPairs, type RequestFacts } from './request-facts.js'
import type { Lookup, ReadyResponse } from './response-cache.js'

const TAGS = Symbol.for('@cache/integrations:tags')

/** Tags the response being produced on `res` (node:http, Express, or any ServerResponse). */
export function cacheTags(res: ServerResponse, ...tags: string[]): void {
  const holder = res as ServerResponse & { [TAGS]?: string[] }
  holder[TAGS] = [...(holder[TAGS] ?? []), ...tags]
}

/** The facts of a node:http request (`url` may be given when a framework rewrote `req.url`). */
export function nodeFacts<Req extends IncomingMessage>(req: Req, url = req.url ?? '/'): RequestFacts<Req> {
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    host: (req.headers.host ?? '').toLowerCase(),
    url,
    header: (name) => {
      const v = req.headers[name]
      return Array.isArray(v) ? v.join(', ') : v
    },
    raw: req,
  }
}

/**
 * Sends a ready response on a ServerResponse whose headers were not sent yet: the stored headers replace
 * any set before (the response is the stored one), then one writeHead and one end.
 */
export function sendReady(res: ServerResponse, ready: ReadyResponse): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  for (const [k, v] of ready.headers) res.appendHeader(k, v)
  const length = ready.body.byteLength
  if (length || !res.hasHeader('content-length')) res.setHeader('content-length', length)
  res.writeHead(ready.status)
  res.end(length ? ready.body : undefined)
}

type Callback = (err?: Error | null) => void

/**
 * Buffers what a handler writes to `res` (writeHead, write, end), then hands it to the lookup's
 * `finish` and sends what that returns. The handler sees an ordinary ServerResponse.
 * `extraTags` reads framework-held tags (Express `res.locals.cacheTags`) when the handler ends.
 */
export function captureInto(
  res: ServerResponse,
  run: Extract<Lookup, { kind: 'run' }>,
  extraTags: () => readonly string[] = () => [],
): void {
  const chunks: Buffer[] = []
  const original = { writeHead: res.writeHead, write: res.write, end: res.end }
  let ended = false
  const toBuffer = (chunk: unknown, encoding?: unknown): Buffer | undefined => {
    if (chunk === undefined || chunk === null) return undefined
    if (typeof chunk === 'string')
      return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
    return Buffer.from(chunk as Uint8Array)
  }
  res.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
    res.statusCode = status
    const headers = rest.find((r) => typeof r === 'object' && r !== null) as
      | OutgoingHttpHeaders
      | unknown[]
      | undefined
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2)
        res.setHeader(String(headers[i]), String(headers[i + 1]))
    } else if (headers) for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v)
    return res
  } as ServerResponse['writeHead']
  res.write = function write(chunk: unknown, encoding?: unknown, cb?: unknown) {
    const b = toBuffer(chunk, encoding)
    if (b) chunks.push(b)
    const done = (typeof encoding === 'function' ? encoding : cb) as Callback | undefined
    if (done) queueMicrotask(() => done())
    return true
  } as ServerResponse['write']
  const restore = () => {
    res.writeHead = original.writeHead
    res.write = original.write
    res.end = original.end
  }
  res.end = function end(chunk?: unknown, encoding?: unknown, cb?: unknown) {
    if (ended) return res
    ended = true
    const b = typeof chunk === 'function' ? undefined : toBuffer(chunk, encoding)
    if (b) chunks.push(b)
    const done = [chunk, encoding, cb].find((f) => typeof f === 'function') as Callback | undefined
    const holder = res as ServerResponse & { [TAGS]?: string[] }
    const captured: CapturedResponse = {
      status: res.statusCode,
      headers: headerPairs(res.getHeaders()),
      body: Buffer.concat(chunks),
      tags: [...(holder[TAGS] ?? []), ...extraTags()],
    }
    run.finish(captured).then(
      (ready) => {
        restore()
        sendReady(res, ready)
        done?.()
      },
      (err: unknown) => {
        // The cache failed while storing: the client still gets what the handler produced.
        restore()
        sendReady(res, {
          status: captured.status,
          headers: captured.headers,
          body: captured.body,
          outcome: 'BYPASS',
        })
        done?.(err instanceof Error ? err : null)
      },
    )
    return res
  } as ServerResponse['end']
  res.once('close', () => {
    if (!ended) {
      restore()
      run.abort()
    }
  })
}
