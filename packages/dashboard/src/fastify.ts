/**
 * Fastify integration. Import from `@cache/dashboard/fastify` (fastify is an optional peer dependency).
 * @example await app.register(fastifyDashboard, { prefix: '/dashboard', conn, metrics, auth: { token } })
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type DashboardRequest, dashboard } from './handler.js'
import type { DashboardOptions } from './options.js'

/** Options of the Fastify plugin: the dashboard's, `basePath` defaulting to the plugin's prefix. */
export type FastifyDashboardOptions = DashboardOptions & { prefix?: string }

/**
 * A Fastify plugin serving the dashboard under its prefix (encapsulated: its body parser and routes do not
 * leak into the rest of the app). The raw request and response are handed to the node:http handler.
 */
export async function fastifyDashboard(
  app: FastifyInstance,
  options: FastifyDashboardOptions,
): Promise<void> {
  const { prefix: _prefix, ...rest } = options
  const handler = dashboard({ ...rest, basePath: rest.basePath ?? app.prefix })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, body),
  )
  const route = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack()
    const raw = request.raw as DashboardRequest
    if (request.body !== undefined) raw.body = request.body
    handler(raw, reply.raw)
  }
  app.all('/', route)
  app.all('/*', route)
}
