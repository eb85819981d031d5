/**
 * Web-standard wrappers for `(Request) => Response` handlers: Next.js route handlers, Hono's `app.fetch`,
 * Bun and Deno. Import from `@cache/integrations/web`.
 */
export { captureResponse, type WebHandler, webFacts, withCache } from './web-cache.js'
export { forwardedFor, type WebRateLimitOptions, withHeaders, withRateLimit } from './web-rate-limit.js'
export {
  readCookie,
  type SessionCookieOptions,
  type SessionHandle,
  type WebSessionOptions,
  withSession,
} from './web-session.js'
