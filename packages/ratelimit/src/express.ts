/**
 * Express middleware. Import from `@cache/ratelimit/express` (express is an optional peer dependency).
 * @example app.use(rateLimit({ limiter, key: 'user', user: (req) => req.get('x-user') }))
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { createDecider, type HttpRateLimitOptions } from './http.js'

/** Options of the Express middleware. */
export type ExpressRateLimitOptions = HttpRateLimitOptions<Request>

/** Express middleware that limits requests, sets the RateLimit headers and answers 429 with Retry-After. */
export function rateLimit(options: ExpressRateLimitOptions): RequestHandler {
  const decide = createDecider(options)
  return (req: Request, res: Response, next: NextFunction) => {
    // req.path is relative to the mount point: skip lists and keys use the full path
    const path = `${req.baseUrl}${req.path}`
    decide({
      ip: req.ip ?? req.socket.remoteAddress ?? 'unknown',
      path,
      route: path,
      method: req.method,
      req,
    }).then((d) => {
      res.set(d.headers)
      if (!d.limited) return next()
      res.status(d.statusCode).type(d.contentType).send(d.body)
    }, next)
  }
}
