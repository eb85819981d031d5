import { describe, expect, it } from 'vitest'
import { redact } from './redact.js'

describe('redact', () => {
  it('redacts secret-named fields, bytes, URL passwords and auth headers, deeply', () => {
    const input = {
      user: 'app',
      password: 'p@ss',
      apiKey: 'k',
      'x-api-key': 'k2',
      clientSecret: 's',
      nested: { refresh_token: 't', list: [{ value: { big: 1 } }, 'redis://app:s3cret@db:6379/0'] },
      url: new URL('rediss://u:pw@host:6380'),
      header: 'Authorization: Bearer abc.def-ghi',
      buf: Buffer.from('secret bytes'),
      when: new Date(0),
      n: 1,
      ok: true,
      nil: null,
    }
    const out = redact(input)
    expect(out).toEqual({
      user: 'app',
      password: '[redacted]',
      apiKey: '[redacted]',
      'x-api-key': '[redacted]',
      clientSecret: '[redacted]',
      nested: {
        refresh_token: '[redacted]',
        list: [{ value: '[redacted]' }, 'redis://app:[redacted]@db:6379/0'],
      },
      url: 'rediss://u:[redacted]@host:6380',
      header: 'Authorization: Bearer [redacted]',
      buf: '[redacted]',
      when: new Date(0),
      n: 1,
      ok: true,
      nil: null,
    })
    expect(input.password).toBe('p@ss')
    expect(JSON.stringify(out)).not.toMatch(/p@ss|s3cret|abc\.def|pw@/)
  })

  it('handles Maps, Sets, Errors with causes and cycles', () => {
    const cyclic: Record<string, unknown> = { token: 'x' }
    cyclic.self = cyclic
    const out = redact(cyclic) as Record<string, unknown>
    expect(out.self).toBe(out)
    expect(out.token).toBe('[redacted]')
    const m = redact(
      new Map<unknown, unknown>([
        ['password', 'x'],
        ['host', 'redis://a:b@c'],
        [1, 2],
      ]),
    )
    expect([...m]).toEqual([
      ['password', '[redacted]'],
      ['host', 'redis://a:[redacted]@c'],
      [1, 2],
    ])
    expect([...redact(new Set(['redis://a:b@c']))]).toEqual(['redis://a:[redacted]@c'])
    const err = Object.assign(
      new Error('connect redis://u:pw@h failed', { cause: new Error('Basic dXNlcjpwdw==') }),
      { password: 'pw' },
    )
    const e = redact(err) as unknown as Record<string, unknown>
    expect(e).toMatchObject({
      name: 'Error',
      message: 'connect redis://u:[redacted]@h failed',
      password: '[redacted]',
    })
    expect(e.cause).toMatchObject({ message: 'Basic [redacted]' })
    let deep: Record<string, unknown> = {}
    const root = deep
    for (let i = 0; i < 40; i++) deep = deep.next = {} as Record<string, unknown>
    expect(JSON.stringify(redact(root))).toContain('[truncated]')
    expect(redact(new ArrayBuffer(2))).toBe('[redacted]')
    expect(redact('plain')).toBe('plain')
  })
})
