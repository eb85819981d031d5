import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { splitUrl, webFacts } from './web-cache.js'

/** What webFacts read with a URL parse per request (the reference). */
function parsed(href: string) {
  const url = new URL(href)
  return { host: url.host.toLowerCase(), url: `${url.pathname}${url.search}` }
}

describe('webFacts without a URL parse', () => {
  const urls = [
    'http://example.com/',
    'https://Example.COM:8443/a/b?x=1&y=2',
    'http://127.0.0.1:3000/products?b=2&a=1#top',
    'http://h/p?',
    'http://h/p?#frag',
    'http://h/p??',
    'http://h/p?a#b?',
    'http://h?q=1',
    'http://h#only',
    'http://[::1]:8080/x?y',
    'https://x.org',
    'http://h/%7Euser/caf%C3%A9?q=%20',
    'http://h/a/../b/./c',
  ]
  it.each(urls)('reads %s as URL.host and pathname + search do', (href) => {
    const request = new Request(href)
    expect(splitUrl(request.url)).toEqual(parsed(request.url))
    expect(webFacts(request)).toMatchObject({ method: 'GET', ...parsed(request.url) })
  })

  it('agrees with the URL parser on generated http(s) URLs (queries, fragments, ports, encodings)', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (href) => {
        const request = new Request(href)
        expect(splitUrl(request.url)).toEqual(parsed(request.url))
      }),
      { numRuns: 150 },
    )
  }, 30_000)

  it('leaves other schemes to the URL parser', () => {
    expect(splitUrl('data:text/plain,hi')).toBeUndefined()
    expect(splitUrl('ftp://h/x')).toBeUndefined()
  })
})
