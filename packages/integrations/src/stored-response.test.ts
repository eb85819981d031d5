import { describe, expect, it } from 'vitest'
import { bodyEtag, etagMatches, isStored, toStored } from './stored-response.js'

describe('stored responses', () => {
  const body = new TextEncoder().encode('hello')
  it('drop hop-by-hop headers, Set-Cookie, the tag header, and keep the handler’s ETag', () => {
    const stored = toStored(
      {
        status: 200,
        headers: [
          ['content-type', 'text/plain'],
          ['connection', 'keep-alive'],
          ['set-cookie', 'a=1'],
          ['cache-tag', 'x'],
          ['content-length', '5'],
          ['etag', 'W/"own"'],
        ],
        body,
      },
      new Set(['cache-tag']),
      1000,
      5000,
      2000,
    )
    expect(stored.headers).toEqual([['content-type', 'text/plain']])
    expect(stored.etag).toBe('W/"own"')
    expect([stored.freshUntil, stored.staleUntil]).toEqual([6000, 8000])
    expect(isStored(stored)).toBe(true)
    expect(isStored({ status: 200 })).toBe(false)
    expect(isStored(null)).toBe(false)
  })
  it('compute a strong ETag from the body when the handler set none', () => {
    const stored = toStored({ status: 200, headers: [], body }, new Set(), 0, 1000, 0)
    expect(stored.etag).toBe(bodyEtag(body))
    expect(bodyEtag(body)).not.toBe(bodyEtag(new TextEncoder().encode('hellp')))
  })
  it('match If-None-Match weakly, in lists, and with *', () => {
    expect(etagMatches('"a"', '"a"')).toBe(true)
    expect(etagMatches('W/"a"', '"a"')).toBe(true)
    expect(etagMatches('"b", W/"a"', 'W/"a"')).toBe(true)
    expect(etagMatches('*', '"a"')).toBe(true)
    expect(etagMatches('"b"', '"a"')).toBe(false)
    expect(etagMatches(undefined, '"a"')).toBe(false)
  })
})
