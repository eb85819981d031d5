import type { CacheErrorCode } from '@cache/client'
import { describe, expectTypeOf, it } from 'vitest'
import type { z } from 'zod'
import type { QueueErrorCode } from './errors.js'
import type { TypedQueue } from './queue.js'
import type { Handlers, QueueJob } from './worker.js'

type Jobs = {
  welcome: z.ZodObject<{ to: z.ZodString; name: z.ZodString }>
  digest: z.ZodObject<{ userId: z.ZodString }>
}

describe('@cache/queue public types', () => {
  it('add is typed by job name', () => {
    const q = {} as TypedQueue<Jobs>
    expectTypeOf(q.add<'welcome'>)
      .parameter(1)
      .toEqualTypeOf<{ to: string; name: string }>()
    expectTypeOf(q.add<'digest'>)
      .parameter(1)
      .toEqualTypeOf<{ userId: string }>()
    expectTypeOf(q.add<'digest'>).returns.toEqualTypeOf<Promise<string>>()
    // @ts-expect-error: a job name that is not defined
    void q.add('nope', {})
  })

  it('handlers get the parsed data of their job', () => {
    type H = Handlers<Jobs>
    expectTypeOf<Parameters<H['welcome']>[0]>().toEqualTypeOf<
      QueueJob<'welcome', { to: string; name: string }>
    >()
    expectTypeOf<Parameters<H['digest']>[0]['data']>().toEqualTypeOf<{ userId: string }>()
    expectTypeOf<Parameters<H['digest']>[1]['signal']>().toEqualTypeOf<AbortSignal>()
  })

  it('the error codes are registered with @cache/client', () => {
    expectTypeOf<QueueErrorCode>().toExtend<CacheErrorCode>()
  })
})
