import { type Connection, connect } from '@cache/client'
import { RedisCache } from '@cache/core'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RequestFacts } from '../src/request-facts.js'
import { ResponseCache } from '../src/response-cache.js'

const { standalone } = inject('redis')
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const facts = (url: string, headers: Record<string, string> = {}): RequestFacts => ({
  method: 'GET',
  host: 'shop.test',
  url,
  header: (n) => headers[n],
  raw: undefined,
})
const body = new TextEncoder().encode('{"items":[1,2,3]}')

describe('lookups of one URL in one event-loop turn share a read (RedisCache)', () => {
  let conn: Connection
  let cache: RedisCache
  let engine: ResponseCache
  beforeAll(async () => {
    conn = await connect({ url: standalone.url, namespace: uniquePrefix('int-shared') })
    cache = new RedisCache(conn, { namespace: 'pages' })
    engine = new ResponseCache({ cache, ttl: '1m' })
    const first = await engine.lookup(facts('/p'))
    expect(first.kind).toBe('run')
    if (first.kind === 'run')
      await first.finish({ status: 200, headers: [['content-type', 'application/json']], body })
  })
  afterAll(async () => {
    await cache?.close()
    await conn?.close()
  })

  it('ten concurrent hits of a URL read Redis once and send the same response', async () => {
    await turn()
    const before = cache.stats().hits
    const lookups = await Promise.all(Array.from({ length: 10 }, () => engine.lookup(facts('/p'))))
    expect(lookups.map((l) => l.kind)).toEqual(Array(10).fill('hit'))
    expect(cache.stats().hits - before).toBe(1)
    const sent = lookups.map((l) => (l.kind === 'hit' ? l.response : undefined))
    expect(new Set(sent).size).toBe(1)
    expect(Buffer.from(sent[0]!.body).equals(Buffer.from(body))).toBe(true)
    expect(sent[0]!.headers).toContainEqual(['x-cache', 'HIT'])
  })

  it('a lookup in a later turn reads again and sees a delete that finished before it', async () => {
    await turn()
    const before = cache.stats().hits
    expect((await engine.lookup(facts('/p'))).kind).toBe('hit')
    expect((await engine.lookup(facts('/p'))).kind).toBe('hit')
    expect(cache.stats().hits - before).toBe(2)
    await cache.delete(engine.keyOf(facts('/p')))
    const after = await engine.lookup(facts('/p'))
    expect(after.kind).toBe('run')
    if (after.kind === 'run') after.abort()
  })

  it('other URLs read their own entries; a conditional request sharing a read gets its own 304', async () => {
    for (const url of ['/p', '/q']) {
      const run = await engine.lookup(facts(url))
      if (run.kind === 'run')
        await run.finish({ status: 200, headers: [['content-type', 'application/json']], body })
    }
    await turn()
    const etag = cache.get(engine.keyOf(facts('/p'))).then((e) => (e as { etag: string }).etag)
    const tag = await etag
    await turn()
    const before = cache.stats().hits
    const [p, q, conditional] = await Promise.all([
      engine.lookup(facts('/p')),
      engine.lookup(facts('/q')),
      engine.lookup(facts('/p', { 'if-none-match': tag })),
    ])
    expect(cache.stats().hits - before).toBe(2)
    expect(p.kind === 'hit' && p.response.status).toBe(200)
    expect(q.kind === 'hit' && q.response.status).toBe(200)
    expect(conditional.kind === 'hit' && conditional.response.status).toBe(304)
    expect(conditional.kind === 'hit' && conditional.response.body.byteLength).toBe(0)
  })
})
