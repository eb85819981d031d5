import { InvalidOptionError } from '@cache/client'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  BACKOFF_TYPES,
  defaultJobOptions,
  resolveProcessOptions,
  resolveQueueOptions,
  toJobOptions,
} from './options.js'

const jobs = { a: z.object({}) }

describe('resolveQueueOptions', () => {
  it('fills the defaults and maps them to BullMQ shapes', () => {
    const o = resolveQueueOptions({ jobs })
    expect(o).toMatchObject({ namespace: 'queue', attempts: 3, timeoutMs: undefined, checks: true })
    expect(Object.isFrozen(o)).toBe(true)
    expect(defaultJobOptions(o)).toEqual({
      attempts: 3,
      backoff: { type: BACKOFF_TYPES.exponential, delay: 1000, jitter: 0.2 },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: { age: 7 * 86_400, count: 10_000 },
    })
  })

  it('reads durations and retention forms', () => {
    const o = resolveQueueOptions({
      jobs,
      defaults: {
        backoff: { type: 'fixed', delay: '2s', max: '1m', jitter: 0 },
        timeout: '30s',
        removeOnComplete: { age: '1d', count: 5 },
        removeOnFail: 100,
      },
    })
    expect(o.backoff).toEqual({ type: 'fixed', delayMs: 2000, jitter: 0, maxMs: 60_000 })
    expect(o.timeoutMs).toBe(30_000)
    expect(o.removeOnComplete).toEqual({ age: 86_400, count: 5 })
    expect(o.removeOnFail).toEqual({ count: 100 })
    expect(resolveQueueOptions({ jobs, defaults: { removeOnComplete: true } }).removeOnComplete).toBe(true)
    expect(
      resolveQueueOptions({ jobs, defaults: { removeOnComplete: { count: 3 } } }).removeOnComplete,
    ).toEqual({ count: 3 })
  })

  it.each([
    [{ jobs, defaults: { attempts: 1.5 } }, 'defaults.attempts'],
    [{ jobs, defaults: { backoff: { jitter: 2 } } }, 'defaults.backoff.jitter'],
    [{ jobs, defaults: { removeOnFail: {} } }, 'defaults.removeOnFail'],
    [{ jobs, namespace: 'a:b' }, 'namespace'],
    [{ jobs, deadLetter: { after: 'never' } }, 'deadLetter.after'],
    [{ jobs, logger: {} }, 'logger'],
    [{ jobs, commandTimeout: 9 }, 'commandTimeout'],
    [{ jobs, commandTimeout: '5ms' }, 'commandTimeout'],
    [{ jobs, commandTimeout: '5 parsecs' }, 'commandTimeout'],
    [{ jobs, commandTimeout: -1 }, 'commandTimeout'],
    [{ jobs, durability: { replicas: 0, timeout: '1s' } }, 'durability.replicas'],
    [{ jobs, durability: { replicas: 1 } }, 'durability.timeout'],
    [{ jobs, durability: { replicas: 1, timeout: '5s' } }, 'durability.timeout'],
    [{}, 'jobs'],
  ])('refuses %j naming %s', (input, field) => {
    expect(() => resolveQueueOptions(input)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION', field }),
    )
  })
})

describe('commandTimeout and durability', () => {
  it('default to 5s and off, read durations, and throw InvalidOptionError naming the field', () => {
    expect(resolveQueueOptions({ jobs })).toMatchObject({ commandTimeoutMs: 5000, durability: undefined })
    const o = resolveQueueOptions({
      jobs,
      commandTimeout: '300ms',
      durability: { replicas: 2, timeout: 250 },
    })
    expect(o).toMatchObject({ commandTimeoutMs: 300, durability: { replicas: 2, timeoutMs: 250 } })
    expect(resolveQueueOptions({ jobs, commandTimeout: 10 }).commandTimeoutMs).toBe(10)
    const err = (() => {
      try {
        resolveQueueOptions({ jobs, commandTimeout: '9ms' })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect(err).toMatchObject({ code: 'E_INVALID_OPTION', field: 'commandTimeout' })
    expect((err as Error).message).toMatch(/^\[@cache\/queue\] option "commandTimeout"/)
  })
})

describe('toJobOptions / resolveProcessOptions', () => {
  it('maps add options, keeping tenant and timeout in the job options', () => {
    // a job without an id gets a random one (never BullMQ's counter, which a failover can wind back)
    const a = toJobOptions(undefined)
    const b = toJobOptions({ priority: 2 })
    expect(a).toEqual({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/) })
    expect(b).toEqual({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), priority: 2 })
    expect(a.jobId).not.toBe(b.jobId)
    expect(
      toJobOptions({ delay: '1s', tenant: 't', timeout: 5, priority: 1, attempts: 2, jobId: 'x-1' }),
    ).toEqual({
      delay: 1000,
      tenant: 't',
      timeoutMs: 5,
      priority: 1,
      attempts: 2,
      jobId: 'x-1',
    })
    expect(() => toJobOptions({ jobId: 'a:b' })).toThrow(expect.objectContaining({ field: 'options.jobId' }))
  })

  it('resolves worker options', () => {
    expect(resolveProcessOptions({})).toMatchObject({
      concurrency: 1,
      zombieGraceMs: 1000,
      perTenant: undefined,
    })
    expect(
      resolveProcessOptions({ perTenant: { limit: 5, window: '1s', concurrency: 2 } }).perTenant,
    ).toEqual({
      limit: 5,
      windowMs: 1000,
      concurrency: 2,
    })
    expect(() => resolveProcessOptions({ perTenant: {} })).toThrow(
      expect.objectContaining({ field: 'perTenant' }),
    )
    expect(() => resolveProcessOptions({ stalledInterval: 1 })).toThrow(
      expect.objectContaining({ field: 'stalledInterval' }),
    )
  })
})
