import type { AddressInfo } from 'node:net'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import express from 'express'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { fastifyDashboard } from '../src/fastify.js'
import { dashboard, type PageData } from '../src/index.js'
import { type Seeded, seed } from './seed.js'

const redis = inject('redis')
const TOKEN = 'framework-token-0123456789'
const auth = { Authorization: `Bearer ${TOKEN}` }

describe('dashboard under Express and Fastify', () => {
  const namespace = uniquePrefix('dash-fw')
  let conn: Connection
  let seeded: Seeded

  beforeAll(async () => {
    conn = await connect({ url: redis.standalone.url, namespace })
    seeded = await seed(conn, { deadLetters: 2 })
  }, 120_000)
  afterAll(async () => {
    await seeded?.close()
    await conn?.close()
  })

  /** The checks both frameworks must pass: base href, a page's JSON, a replay through a pre-parsed body. */
  async function exercise(base: string): Promise<void> {
    expect((await fetch(`${base}/`)).status).toBe(401)
    const redirect = await fetch(base, { headers: auth, redirect: 'manual' })
    expect(redirect.status).toBe(308)
    expect(redirect.headers.get('location')).toBe('/dashboard/')
    const html = await (await fetch(`${base}/queues`, { headers: auth })).text()
    expect(html).toContain('<base href="/dashboard/">')
    const q = (await (await fetch(`${base}/api/pages/queues`, { headers: auth })).json()) as PageData
    expect(q.tables.find((t) => t.id === 'queue-dlq')!.rows.length).toBeGreaterThan(0)
    const before = await seeded.queue.deadLetters.count()
    const [first] = await seeded.queue.deadLetters.list({ limit: 1 })
    const r = await fetch(`${base}/api/actions/dlq-replay`, {
      method: 'POST',
      headers: {
        ...auth,
        'Content-Type': 'application/json',
        'X-CSRF-Token': /data-csrf="([^"]+)"/.exec(html)![1]!,
      },
      body: JSON.stringify({ queue: 'emails', ids: [first!.id] }),
    })
    expect(await r.json()).toMatchObject({ replayed: 1 })
    expect(await seeded.queue.deadLetters.count()).toBe(before - 1)
  }

  it('Express: app.use("/dashboard", handler), behind express.json()', async () => {
    const app = express()
    app.use(express.json())
    app.use('/dashboard', dashboard({ conn, metrics: seeded.metrics, auth: { token: TOKEN } }))
    app.get('/other', (_req, res) => {
      res.send('other route')
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      await exercise(`${url}/dashboard`)
      expect(await (await fetch(`${url}/other`)).text()).toBe('other route')
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })

  it('Fastify: register(fastifyDashboard, { prefix: "/dashboard" })', async () => {
    const app = Fastify()
    await app.register(fastifyDashboard, {
      prefix: '/dashboard',
      conn,
      metrics: seeded.metrics,
      auth: { token: TOKEN },
    })
    app.post('/echo', async (req) => req.body)
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      await exercise(`${url}/dashboard`)
      // The plugin's body parser stays inside it: the app still parses its own JSON.
      const echo = await fetch(`${url}/echo`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"a":1}',
      })
      expect(await echo.json()).toEqual({ a: 1 })
    } finally {
      await app.close()
    }
  })
})
