import type { Connection } from '@cache/client'
import { describe, expectTypeOf, it } from 'vitest'
import type { Lock, LockGroup, LockManager, ReadWriteLock, Redlock, Semaphore } from './index.js'

describe('public types', () => {
  it('using() returns what the callback returns', () => {
    expectTypeOf<LockManager['using']>().returns.toEqualTypeOf<Promise<unknown>>()
    const run = (locks: LockManager) => locks.using('r', { ttl: '5s' }, async () => 42)
    expectTypeOf(run).returns.toEqualTypeOf<Promise<number>>()
    const sem = (s: Semaphore) => s.using(undefined, (permit) => permit.token)
    expectTypeOf(sem).returns.toEqualTypeOf<Promise<number>>()
    const rw = (l: ReadWriteLock) => l.withRead({}, () => 'x')
    expectTypeOf(rw).returns.toEqualTypeOf<Promise<string>>()
    const rl = (r: Redlock) => r.using('r', undefined, (lock) => lock.signal)
    expectTypeOf(rl).returns.toEqualTypeOf<Promise<AbortSignal>>()
  })

  it('acquisition results', () => {
    expectTypeOf<ReturnType<LockManager['tryAcquire']>>().toEqualTypeOf<Promise<Lock | null>>()
    expectTypeOf<ReturnType<LockManager['acquireAll']>>().toEqualTypeOf<Promise<LockGroup>>()
    expectTypeOf<Lock['token']>().toEqualTypeOf<number>()
    expectTypeOf<ConstructorParameters<typeof Semaphore>[0]>().toEqualTypeOf<Connection>()
  })
})
