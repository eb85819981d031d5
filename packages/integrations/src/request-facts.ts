/** What response caching and the Web wrappers know about a request, whatever the framework. */
export interface RequestFacts<Raw = unknown> {
  /** Upper-case method. */
  method: string
  /** Host the request was sent to (lower-cased, with port), or '' when unknown. */
  host: string
  /** Path and query string, as received. */
  url: string
  /** A request header (lower-case name), joined by ', ' when repeated. */
  header(name: string): string | undefined
  /** The framework's request object. */
  raw: Raw
}

/** A response as the handler produced it, buffered. */
export interface CapturedResponse {
  status: number
  /** Header pairs with lower-case names; a repeated header (set-cookie) appears once per value. */
  headers: Array<[string, string]>
  body: Uint8Array
  /** Tags the handler gave this response (Express `res.locals.cacheTags`); the tag header adds more. */
  tags?: readonly string[]
}

/** The value of a header in captured pairs (joined by ', ' when repeated). */
export function headerOf(headers: ReadonlyArray<[string, string]>, name: string): string | undefined {
  let out: string | undefined
  for (const [k, v] of headers) if (k === name) out = out === undefined ? v : `${out}, ${v}`
  return out
}

/** Header pairs from a node:http / Fetch-like `name -> value | values` record, names lower-cased. */
export function headerPairs(record: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined || v === null) continue
    if (Array.isArray(v)) for (const one of v) out.push([k.toLowerCase(), String(one)])
    else out.push([k.toLowerCase(), String(v)])
  }
  return out
}
