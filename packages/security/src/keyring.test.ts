import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { Keyring } from './keyring.js'

const a = randomBytes(32)
const b = randomBytes(32)
const code = (fn: () => unknown): unknown => {
  try {
    fn()
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message }
  }
  return undefined
}

describe('Keyring', () => {
  it('validates ids, lengths, statuses and exactly one primary, naming the key id never the key', () => {
    const short = randomBytes(16).toString('base64')
    const e = code(() => new Keyring({ keys: [{ id: 'k1', key: short, status: 'primary' }] })) as {
      code: string
      message: string
    }
    expect(e.code).toBe('E_INVALID_OPTION')
    expect(e.message).toContain('"k1"')
    expect(e.message).toContain('got 16')
    expect(e.message).not.toContain(short)
    expect(code(() => new Keyring({ keys: [] }))).toMatchObject({ code: 'E_INVALID_OPTION' })
    expect(code(() => new Keyring(undefined as never))).toMatchObject({ code: 'E_INVALID_OPTION' })
    expect(code(() => new Keyring({ keys: [{ id: 'k1', key: a }] }))).toMatchObject({
      message: expect.stringContaining('got 0'),
    })
    expect(
      code(
        () =>
          new Keyring({
            keys: [
              { id: 'k1', key: a, status: 'primary' },
              { id: 'k2', key: b, status: 'primary' },
            ],
          }),
      ),
    ).toMatchObject({ message: expect.stringContaining('got 2') })
    expect(
      code(
        () =>
          new Keyring({
            keys: [
              { id: 'k1', key: a, status: 'primary' },
              { id: 'k1', key: b },
            ],
          }),
      ),
    ).toMatchObject({
      message: expect.stringContaining('used twice'),
    })
    expect(code(() => new Keyring({ keys: [{ id: 'bad id!', key: a, status: 'primary' }] }))).toMatchObject({
      code: 'E_INVALID_OPTION',
    })
    expect(code(() => new Keyring({ keys: [{ id: 'k', key: a, status: 'on' as never }] }))).toMatchObject({
      message: expect.stringContaining('status'),
    })
    expect(
      code(() => new Keyring({ keys: [{ id: 'k', key: 'not base64!!', status: 'primary' }] })),
    ).toMatchObject({
      message: expect.not.stringContaining('not base64'),
    })
    expect(
      code(() => new Keyring({ keys: [{ id: 'k', key: 42 as never, status: 'primary' }] })),
    ).toMatchObject({ code: 'E_INVALID_OPTION' })
    expect(code(() => new Keyring({ keys: [null as never] }))).toMatchObject({ code: 'E_INVALID_OPTION' })
  })

  it('accepts base64, base64url and bytes', () => {
    const r = new Keyring({
      keys: [
        { id: 'a', key: a.toString('base64'), status: 'primary' },
        { id: 'b', key: b.toString('base64url') },
        { id: 'c', key: new Uint8Array(32), status: 'disabled' },
      ],
    })
    expect(r.list()).toEqual([
      { id: 'a', status: 'primary' },
      { id: 'b', status: 'enabled' },
      { id: 'c', status: 'disabled' },
    ])
    expect(r.primaryId).toBe('a')
    expect(r.status('c')).toBe('disabled')
    expect(r.status('zz')).toBeUndefined()
  })

  it('rotates by add then promote; the primary cannot be disabled or removed; add refuses primary', () => {
    const r = new Keyring({ keys: [{ id: 'old', key: a, status: 'primary' }] })
    expect(code(() => r.add({ id: 'new', key: b, status: 'primary' }))).toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    r.add({ id: 'new', key: b })
    expect(r.primaryId).toBe('old')
    r.promote('new')
    expect(r.list()).toEqual([
      { id: 'new', status: 'primary' },
      { id: 'old', status: 'enabled' },
    ])
    r.promote('new')
    expect(r.primaryId).toBe('new')
    expect(code(() => r.disable('new'))).toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    expect(code(() => r.remove('new'))).toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    expect(code(() => r.promote('nope'))).toMatchObject({ code: 'E_KEY_NOT_FOUND' })
    expect(code(() => r.add({ id: 'old', key: a }))).toMatchObject({ code: 'E_INVALID_OPTION' })
  })

  it('fromEnv reads JSON or an id:base64 list, and never prints the value', () => {
    const list = `k2:${b.toString('base64')}, k1:${a.toString('base64')}`
    expect(Keyring.fromEnv({ CACHE_KEYRING: list }).list()).toEqual([
      { id: 'k2', status: 'primary' },
      { id: 'k1', status: 'enabled' },
    ])
    const withStatus = `k1:${a.toString('base64')}:enabled,k2:${b.toString('base64')}:primary`
    expect(Keyring.fromEnv({ CACHE_KEYRING: withStatus }).primaryId).toBe('k2')
    const json = JSON.stringify([{ id: 'j', key: a.toString('base64'), status: 'primary' }])
    expect(Keyring.fromEnv({ CACHE_KEYRING: json }).primaryId).toBe('j')
    expect(
      Keyring.fromEnv({ MY_RING: JSON.stringify({ keys: JSON.parse(json) }) }, 'MY_RING').primaryId,
    ).toBe('j')
    expect(code(() => Keyring.fromEnv({}))).toMatchObject({
      code: 'E_INVALID_OPTION',
      message: expect.stringContaining('CACHE_KEYRING'),
    })
    const broken = `{"keys": "${a.toString('base64')}`
    const e = code(() => Keyring.fromEnv({ CACHE_KEYRING: broken })) as { message: string }
    expect(e.message).not.toContain(a.toString('base64'))
    const short = `k:${randomBytes(8).toString('base64')}`
    expect(
      (code(() => Keyring.fromEnv({ CACHE_KEYRING: short })) as { message: string }).message,
    ).not.toContain(short.slice(2))
  })

  it('inspect, JSON and String show ids and statuses only', () => {
    const r = new Keyring({ keys: [{ id: 'k', key: a, status: 'primary' }] })
    const dump = `${inspect(r, { depth: 20, showHidden: true })} ${JSON.stringify(r)} ${String(r)} ${inspect({ r })}`
    for (const s of [a.toString('base64'), a.toString('hex'), a.toString('base64url')])
      expect(dump).not.toContain(s)
    expect(JSON.parse(JSON.stringify(r))).toEqual({ keys: [{ id: 'k', status: 'primary' }] })
    expect(String(r)).toBe('Keyring(k:primary)')
  })
})
