/**
 * Fastify plugin: response caching. Import from `@cache/integrations/fastify` (fastify is an optional
 * peer dependency).
 * @example app.register(fastifyCache, { cache, ttl: '1m' })
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { nodeFacts } from './node-capture.js'
import { headerPairs } from './request-facts.js'
import { type Lookup, type ReadyResponse, ResponseCache } from './response-cache.js'
import type { ResponseCacheOptions } from './response-options.js'

/** Options of the Fastify plugin. */
export type FastifyCacheOptions = ResponseCacheOptions<FastifyRequest>

type Run = Extract<Lookup, { kind: 'run' }>
const TAGS = Symbol.for('@cache/integrations:tags')

/** Tags the response a route is producing (or set the `Cache-Tag` header). */
export function cacheTags(reply: FastifyReply, ...tags: string[]): void {
  const holder = reply as FastifyReply & { [TAGS]?: string[] }
  holder[TAGS] = [...(holder[TAGS] ?? []), ...tags]
}

function apply(reply: FastifyReply, ready: ReadyResponse): void {
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
  const grouped = new Map<string, string[]>()
  for (const [k, v] of ready.headers)
    if (k !== 'content-length') grouped.set(k, [...(grouped.get(k) ?? []), v])
  for (const [k, v] of grouped) reply.header(k, v.length === 1 ? v[0] : v)
  reply.code(ready.status)
}

/**
 * The hooks of response caching: `onRequest` answers hits, `onSend` stores what the route sends
 * (string and Buffer payloads; streams are sent and not stored), `onRequestAbort` / `onError` release
 * requests waiting for this one.
 */
export function cacheHooks(options: FastifyCacheOptions) {
  const engine = new ResponseCache<FastifyRequest>(options)
  const runs = new WeakMap<FastifyRequest, Run>()
  const abort = async (request: FastifyRequest) => {
    const run = runs.get(request)
    runs.delete(request)
    run?.abort()
  }
  return {
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      const lookup = await engine.lookup(nodeFacts(request.raw, request.url) as never)
      if (lookup.kind === 'run') {
        runs.set(request, lookup)
        return
      }
      apply(reply, lookup.response)
      await reply.send(Buffer.from(lookup.response.body))
    },
    onSend: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const run = runs.get(request)
      if (!run) return payload
      runs.delete(request)
      if (
        payload !== null &&
        payload !== undefined &&
        typeof payload !== 'string' &&
        !Buffer.isBuffer(payload)
      ) {
        run.abort()
        return payload
      }
      const holder = reply as FastifyReply & { [TAGS]?: string[] }
      const ready = await run.finish({
        status: reply.statusCode,
        headers: headerPairs(reply.getHeaders()),
        body: payload === null || payload === undefined ? new Uint8Array(0) : Buffer.from(payload),
        tags: holder[TAGS] ?? [],
      })
      apply(reply, ready)
      return Buffer.from(ready.body)
    },
    onRequestAbort: abort,
    onError: abort,
  }
}

/**
 * A Fastify plugin caching the responses of every route of the instance it is registered on (not
 * encapsulated, like plugins wrapped with fastify-plugin).
 */
export const fastifyCache = Object.assign(
  async (app: FastifyInstance, options: FastifyCacheOptions) => {
    const hooks = cacheHooks(options)
    app.addHook('onRequest', hooks.onRequest)
    app.addHook('onSend', hooks.onSend)
    app.addHook('onRequestAbort', hooks.onRequestAbort)
    app.addHook('onError', hooks.onError)
  },
  { [Symbol.for('skip-override')]: true },
)
