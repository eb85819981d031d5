import { KeyBuilder } from '@cache/client'
import { describe, expect, it } from 'vitest'
import { mutexKeys, rwKeys, semaphoreKeys, waitsKey } from './keys.js'
import { acquireSchema, checkName, parseAcquire } from './options.js'

describe('acquire options', () => {
  it('defaults and freezes', () => {
    const o = parseAcquire(undefined)
    expect(o).toMatchObject({
      ttl: 10_000,
      waitTimeout: 5_000,
      autoExtend: false,
      fair: false,
      waitReplicas: 0,
    })
    expect(Object.isFrozen(o)).toBe(true)
    expect(parseAcquire({ ttl: '1m', waitTimeout: 0 })).toMatchObject({ ttl: 60_000, waitTimeout: 0 })
  })

  it('the fast path for plain values gives what the zod schema gives', () => {
    const signal = new AbortController().signal
    const plain = {
      ttl: 1000,
      waitTimeout: 0,
      autoExtend: true,
      fair: true,
      reentrant: true,
      owner: 'o',
      signal,
    }
    const viaZod = acquireSchema.parse({ ...plain })
    expect(parseAcquire(plain)).toEqual(viaZod)
    expect(parseAcquire({ waitReplicas: 2, replicaTimeout: 50 })).toEqual(
      acquireSchema.parse({ waitReplicas: 2, replicaTimeout: 50 }),
    )
    expect(Object.isFrozen(parseAcquire({ ttl: 1000 }))).toBe(true)
    // A class instance or an out-of-range value takes the zod path (and its error).
    expect(() => parseAcquire({ ttl: 1e12 })).toThrow(expect.objectContaining({ field: 'ttl' }))
    expect(() => parseAcquire(Object.assign(Object.create({ inherited: 1 }), { ttl: 5 }))).toThrow(
      expect.objectContaining({ field: 'ttl' }),
    )
  })

  it.each([
    [{ ttl: -5 }, 'ttl'],
    [{ ttl: 5 }, 'ttl'],
    [{ ttl: '10 years' }, 'ttl'],
    [{ waitTimeout: '2d' }, 'waitTimeout'],
    [{ waitReplicas: 1.5 }, 'waitReplicas'],
    [{ autoExtend: 'yes' }, 'autoExtend'],
    [{ signal: 'nope' }, 'signal'],
    [{ owner: '' }, 'owner'],
    [{ owner: 'a\nb' }, 'owner'],
    [{ colour: 'red' }, 'colour'],
  ])('rejects %j naming "%s"', (input, field) => {
    expect(() => parseAcquire(input as never)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field }),
    )
  })

  it('reuses the previous resolution only for the very same plain options', () => {
    const a = parseAcquire({ ttl: 1_000, fair: true })
    expect(parseAcquire({ ttl: 1_000, fair: true })).toBe(a)
    expect(parseAcquire({ ttl: 2_000, fair: true })).toMatchObject({ ttl: 2_000, fair: true })
    expect(parseAcquire({ ttl: 2_000 })).toMatchObject({ ttl: 2_000, fair: false })
    expect(parseAcquire({ fair: true, ttl: 2_000 })).toMatchObject({ ttl: 2_000, fair: true })
    expect(parseAcquire({ ttl: 2_000, fair: true, reentrant: true })).toMatchObject({ reentrant: true })
    const signal = new AbortController().signal
    expect(parseAcquire({ ttl: 2_000, signal }).signal).toBe(signal)
    const other = new AbortController().signal
    expect(parseAcquire({ ttl: 2_000, signal: other }).signal).toBe(other)
    expect(parseAcquire({ ttl: 2_000 }).signal).toBeUndefined()
    expect(() => parseAcquire({ ttl: 5 })).toThrow(/ttl/)
  })

  it('checks resource names', () => {
    expect(checkName('resource', 'a')).toBe('a')
    expect(() => checkName('resource', '')).toThrow(expect.objectContaining({ field: 'resource' }))
    expect(() => checkName('resource', 'x'.repeat(1025))).toThrow(/1 to 1024 characters/)
    expect(() => checkName('resource', 42)).toThrow(/got number/)
  })
})

describe('keys', () => {
  const keys = new KeyBuilder('app').child('lock')
  it('share one hash tag per resource and escape user input', () => {
    expect(mutexKeys(keys, 'a:b')).toEqual({
      lock: 'app:lock:{a%3Ab}',
      fence: 'app:lock:{a%3Ab}:fence',
      queue: 'app:lock:{a%3Ab}:q',
      deadlines: 'app:lock:{a%3Ab}:qd',
      channel: 'app:lock:{a%3Ab}:ch',
      waiters: 'app:lock:{a%3Ab}:w',
    })
    expect(mutexKeys(keys, '{x}').lock).toBe('app:lock:{%7Bx%7D}')
    expect(waitsKey(keys)).toBe('app:lock:waits')
    expect(semaphoreKeys(keys, 's').holders).toBe('app:lock:{s}')
    expect(rwKeys(keys, 'd').writer).toBe('app:lock:{d}:w')
  })
})
