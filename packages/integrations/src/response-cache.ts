import { freshness } from './cache-control.js'
import { MIN_ENTRY_MS } from './defaults.js'
import { responseChannel } from './diagnostics.js'
import { type CapturedResponse, headerOf, type RequestFacts } from './request-facts.js'
import { responseKey } from './response-key.js'
import {
  type ResolvedResponseOptions,
  type ResponseCacheOptions,
  resolveResponseOptions,
} from './response-options.js'
import { SharedReads } from './shared-reads.js'
import { etagMatches, isStored, type StoredResponse, toStored } from './stored-response.js'

/** Where a response came from. */
export type CacheOutcome = 'HIT' | 'STALE' | 'MISS' | 'BYPASS'

/** What an adapter sends: status, header pairs and body (empty for 304 and HEAD); shared by hits: read only. */
export interface ReadyResponse {
  status: number
  headers: Array<[string, string]>
  body: Uint8Array
  outcome: CacheOutcome
}

/** The first step of a request: answer from the cache, or run the handler and `finish` with its response. */
export type Lookup =
  | { kind: 'hit'; response: ReadyResponse }
  | {
      kind: 'run'
      /** Stores the handler's response when it may be, and returns what to send. */
      finish(captured: CapturedResponse): Promise<ReadyResponse>
      /** The handler failed or the client went away: concurrent requests stop waiting for this one. */
      abort(reason?: unknown): void
    }

/** Carries "this response was not stored" out of getOrSet without storing anything. */
class NotStored extends Error {
  override readonly name = 'ResponseNotStored'
}

const EMPTY = new Uint8Array(0)
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** Request keys remembered per engine (default keying without Vary: the key depends on method, host and URL). */
const KEY_MEMO_MAX = 1024

/**
 * What a hit of one stored entry sends, built once per entry object (TieredCache's L1 hands back the same
 * object on every hit): the header pairs with the ETag, and the last full HIT response (rebuilt when its
 * Age, in whole seconds, changes).
 */
interface Prepared {
  headers: Array<[string, string]>
  age: number
  hit: ReadyResponse | undefined
}
const PREPARED = new WeakMap<StoredResponse, Prepared>()

/** Headers a 304 carries (RFC 9110 §15.4.5). */
const NOT_MODIFIED_HEADERS = new Set(['cache-control', 'content-location', 'expires', 'vary', 'etag'])

/**
 * The framework-neutral response cache every adapter (Express, Fastify, node:http, Web) drives: keys,
 * Cache-Control, ETag / 304, Vary, Set-Cookie and Authorization rules, stale-while-revalidate, and
 * stampede safety through the cache's getOrSet (one request per key computes, in every process; the
 * others wait for it and are answered from the cache).
 */
export class ResponseCache<Raw = unknown> {
  /** The resolved options. */
  readonly options: ResolvedResponseOptions<Raw>

  /** Keys of recent requests by method, host and URL, when nothing else goes into a key. */
  readonly #keys: Map<string, string> | undefined
  /** Lookups of one key in one event-loop turn share a read (shared-reads.ts). */
  readonly #reads = new SharedReads<unknown>()
  readonly #read: (key: string) => Promise<unknown>

  constructor(options: ResponseCacheOptions<Raw>) {
    this.options = resolveResponseOptions(options)
    this.#keys = this.options.key || this.options.vary.length > 0 ? undefined : new Map()
    const cache = this.options.cache
    this.#read = (key) => cache.get(key)
  }

  /** The cache key of a request. */
  keyOf(req: RequestFacts<Raw>): string {
    const o = this.options
    if (o.key) return o.key(req)
    const memo = this.#keys
    if (!memo) return responseKey(req, o.vary, o.ignoreQuery)
    // A hit must not hash its URL again: the key of a method + host + URL is remembered.
    const id = `${req.method === 'HEAD' ? 'GET' : req.method} ${req.host} ${req.url}`
    let key = memo.get(id)
    if (key === undefined) {
      key = responseKey(req, o.vary, o.ignoreQuery)
      memo.set(id, key)
      if (memo.size > KEY_MEMO_MAX) {
        const oldest = memo.keys().next().value
        if (oldest !== undefined) memo.delete(oldest)
      }
    }
    return key
  }

  /** Looks a request up: a hit to send, or a run whose response `finish` stores. */
  async lookup(req: RequestFacts<Raw>): Promise<Lookup> {
    const o = this.options
    const method = req.method.toUpperCase()
    if (method !== 'GET' && method !== 'HEAD')
      return this.#pass(req, UNSAFE.has(method) ? 'unsafe' : 'method')
    if (req.header('authorization') !== undefined && !o.shareAuthorized)
      return this.#pass(req, 'authorization')
    let key: string
    let entry: StoredResponse | undefined
    try {
      key = this.keyOf(req)
      const got = await this.#reads.get(key, this.#read)
      entry = isStored(got) ? got : undefined
    } catch {
      return this.#pass(req, 'error')
    }
    const now = Date.now()
    if (entry && now < entry.freshUntil) return this.#hit(req, entry, 'HIT', now)
    if (entry && now < entry.staleUntil) {
      if (method === 'HEAD') return this.#hit(req, entry, 'STALE', now)
      const marker = `${key}#revalidating`
      const mine = await o.cache
        .setIfAbsent(marker, 1 as never, { ttl: Math.max(MIN_ENTRY_MS, o.leaseMs) })
        .catch(() => false)
      if (!mine) return this.#hit(req, entry, 'STALE', now)
      return this.#revalidate(req, key, marker)
    }
    if (method === 'HEAD') return this.#pass(req, 'head-miss')
    // An entry past its stale window would be returned by getOrSet: remove it first.
    if (entry) await o.cache.delete(key).catch(() => false)
    return this.#flight(req, key)
  }

  #publish(outcome: CacheOutcome, reason?: string): void {
    if (responseChannel.hasSubscribers)
      responseChannel.publish({
        namespace: this.options.cache.namespace,
        outcome,
        ...(reason ? { reason } : {}),
      })
  }

  #hit(req: RequestFacts<Raw>, entry: StoredResponse, outcome: CacheOutcome, now: number): Lookup {
    this.#publish(outcome)
    return { kind: 'hit', response: this.#ready(req, entry, outcome, now) }
  }

  /** The response of a stored entry: Age, ETag, the status header; 304 when If-None-Match matches; no body for HEAD. */
  #ready(req: RequestFacts<Raw>, entry: StoredResponse, outcome: CacheOutcome, now: number): ReadyResponse {
    const status = this.options.statusHeader
    let prepared = PREPARED.get(entry)
    if (!prepared) {
      prepared = { headers: [...entry.headers, ['etag', entry.etag]], age: -1, hit: undefined }
      PREPARED.set(entry, prepared)
    }
    const age = Math.max(0, Math.floor((now - entry.storedAt) / 1000))
    const inm = req.header('if-none-match')
    // The hot path: a fresh hit of a GET without a validator sends the response built for this entry.
    const plain = outcome === 'HIT' && req.method !== 'HEAD' && inm === undefined
    if (plain && prepared.age === age && prepared.hit) return prepared.hit
    const headers: Array<[string, string]> = [...prepared.headers, ['age', String(age)]]
    if (status) headers.push([status, outcome])
    if (plain) {
      prepared.hit = { status: entry.status, headers, body: entry.body, outcome }
      prepared.age = age
      return prepared.hit
    }
    if (etagMatches(inm, entry.etag) && (entry.status === 200 || entry.status === 203))
      return {
        status: 304,
        headers: headers.filter(([k]) => NOT_MODIFIED_HEADERS.has(k) || k === 'age' || k === status),
        body: EMPTY,
        outcome,
      }
    if (req.method === 'HEAD') {
      headers.push(['content-length', String(entry.body.byteLength)])
      return { status: entry.status, headers, body: EMPTY, outcome }
    }
    return { status: entry.status, headers, body: entry.body, outcome }
  }

  /** What the request that produced a stored entry gets: the entry, plus its own Set-Cookie (setCookie 'strip'). */
  #own(
    req: RequestFacts<Raw>,
    entry: StoredResponse,
    captured: CapturedResponse,
    now: number,
  ): ReadyResponse {
    const ready = this.#ready(req, entry, 'MISS', now)
    const cookies = captured.headers.filter(([k]) => k === 'set-cookie')
    return cookies.length ? { ...ready, headers: [...ready.headers, ...cookies] } : ready
  }

  /** Tags of a captured response: the configured ones, the handler's, and the tag header's. */
  #tagsOf(req: RequestFacts<Raw>, captured: CapturedResponse): string[] {
    const fromHeader = (headerOf(captured.headers, this.options.tagHeader) ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
    return [...new Set([...this.options.tags(req), ...(captured.tags ?? []), ...fromHeader])]
  }

  /** What the handler sent, as is, less the tag header (a bypassed or unstored response). */
  #asIs(captured: CapturedResponse, outcome: CacheOutcome): ReadyResponse {
    const status = this.options.statusHeader
    const headers = captured.headers.filter(([k]) => k !== this.options.tagHeader)
    if (status) headers.push([status, outcome])
    return { status: captured.status, headers, body: captured.body, outcome }
  }

  /** Not cached: run the handler; a successful unsafe request invalidates the tags its handler names. */
  #pass(req: RequestFacts<Raw>, reason: string): Lookup {
    this.#publish('BYPASS', reason)
    return {
      kind: 'run',
      finish: async (captured) => {
        if (reason === 'unsafe' && captured.status >= 200 && captured.status < 400) {
          const tags = this.#tagsOf(req, captured)
          // The write succeeded; a failed invalidation must not turn its answer into an error.
          if (tags.length)
            await this.options.cache.invalidateTags(tags).catch(() => this.#publish('BYPASS', 'error'))
        }
        return this.#asIs(captured, 'BYPASS')
      },
      abort: () => {},
    }
  }

  /** Whether a response may be stored: its entry, or why not. */
  #storable(req: RequestFacts<Raw>, captured: CapturedResponse, now: number): StoredResponse | string {
    const o = this.options
    const f = freshness(
      {
        status: captured.status,
        cacheControl: headerOf(captured.headers, 'cache-control'),
        authorized: req.header('authorization') !== undefined,
      },
      { defaultTtlMs: o.ttlMs, statuses: o.statuses, shareAuthorized: o.shareAuthorized },
    )
    if (typeof f === 'string') return f
    if (f.freshMs + f.staleMs < MIN_ENTRY_MS) return 'ttl'
    if (o.setCookie === 'bypass' && captured.headers.some(([k]) => k === 'set-cookie')) return 'set-cookie'
    const vary = headerOf(captured.headers, 'vary')
    if (vary) {
      const names = vary.split(',').map((v) => v.trim().toLowerCase())
      if (names.some((n) => n === '*' || (n && !o.vary.includes(n)))) return 'vary'
    }
    if (captured.body.byteLength > o.maxBodyBytes) return 'too-large'
    return toStored(captured, new Set([o.tagHeader]), now, f.freshMs, f.staleMs)
  }

  /** Writes an entry with its own lifetime and tags (after getOrSet stored it with the defaults). */
  async #settle(
    key: string,
    entry: StoredResponse,
    tags: readonly string[],
    staticCount: number,
  ): Promise<void> {
    const ttl = Math.max(MIN_ENTRY_MS, entry.staleUntil - entry.storedAt)
    if (tags.length > staticCount) await this.options.cache.set(key, entry, { ttl, tags })
    else if (ttl !== this.options.ttlMs) await this.options.cache.expire(key, ttl)
  }

  /** A stale entry, and this request won the revalidation marker: run, store, release the marker. */
  #revalidate(req: RequestFacts<Raw>, key: string, marker: string): Lookup {
    this.#publish('MISS', 'stale')
    const release = () => this.options.cache.delete(marker).catch(() => false)
    return {
      kind: 'run',
      finish: async (captured) => {
        try {
          const now = Date.now()
          const entry = this.#storable(req, captured, now)
          if (typeof entry === 'string') {
            await this.options.cache.delete(key).catch(() => false)
            return this.#asIs(captured, 'MISS')
          }
          const tags = this.#tagsOf(req, captured)
          await this.options.cache
            .set(key, entry, {
              ttl: Math.max(MIN_ENTRY_MS, entry.staleUntil - now),
              ...(tags.length ? { tags } : {}),
            })
            .catch(() => this.#publish('MISS', 'error'))
          return this.#own(req, entry, captured, now)
        } finally {
          await release()
        }
      },
      abort: () => {
        void release()
      },
    }
  }

  /**
   * A miss: getOrSet with a factory that waits for this request's handler. When this request's factory
   * runs it is the one computing (`run`); when the flight resolves first another request (in this or
   * another process) computed, and this one is answered from the cache.
   */
  async #flight(req: RequestFacts<Raw>, key: string): Promise<Lookup> {
    const o = this.options
    let invoked!: () => void
    const owner = new Promise<'owner'>((resolve) => {
      invoked = () => resolve('owner')
    })
    let deliver!: (entry: StoredResponse) => void
    let refuse!: (reason: unknown) => void
    const produced = new Promise<StoredResponse>((resolve, reject) => {
      deliver = resolve
      refuse = reject
    })
    produced.catch(() => {})
    let staticTags: readonly string[]
    try {
      staticTags = o.tags(req)
    } catch {
      return this.#pass(req, 'error')
    }
    const flight = o.cache.getOrSet(
      key,
      () => {
        invoked()
        return produced
      },
      { ttl: o.ttlMs, lease: o.leaseMs, ...(staticTags.length ? { tags: staticTags } : {}) },
    )
    const settled = flight.then(
      (entry) => ({ entry }),
      (error: unknown) => ({ error }),
    )
    const first = await Promise.race([owner, settled])
    if (first !== 'owner') {
      if ('entry' in first && isStored(first.entry)) return this.#hit(req, first.entry, 'HIT', Date.now())
      // The other request's response was not stored (or failed): this one runs its own handler.
      return this.#pass(req, 'error' in first && first.error instanceof NotStored ? 'not-stored' : 'error')
    }
    // Concurrent requests must not wait forever on a handler that never answers.
    const timer = setTimeout(() => refuse(new NotStored('timeout')), o.leaseMs)
    timer.unref?.()
    return {
      kind: 'run',
      finish: async (captured) => {
        clearTimeout(timer)
        const now = Date.now()
        const entry = this.#storable(req, captured, now)
        if (typeof entry === 'string') {
          refuse(new NotStored(entry))
          await settled
          this.#publish('MISS', entry)
          return this.#asIs(captured, 'MISS')
        }
        deliver(entry)
        const done = await settled
        if ('entry' in done) {
          const tags = this.#tagsOf(req, captured)
          await this.#settle(key, entry, tags, staticTags.length).catch(() => {})
        }
        this.#publish('MISS', 'error' in done ? 'error' : undefined)
        return this.#own(req, entry, captured, now)
      },
      abort: (reason) => {
        clearTimeout(timer)
        refuse(reason instanceof Error ? reason : new NotStored('aborted'))
      },
    }
  }
}
