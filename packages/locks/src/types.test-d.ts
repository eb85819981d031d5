import { type Connection, isCacheError } from '@cache/client'
import { describe, expectTypeOf, it } from 'vitest'
import type {
  LeaderElection,
  Lock,
  LockErrorCode,
  LockGroup,
  LockManager,
  LockManagerOptions,
  ReadWriteLock,
  Redlock,
  Semaphore,
} from './index.js'

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

  it('follows the family convention: new Thing(conn, options), namespace, close() + asyncDispose, coded errors', () => {
    expectTypeOf<ConstructorParameters<typeof LockManager>>().toEqualTypeOf<
      [conn: Connection, options?: LockManagerOptions]
    >()
    expectTypeOf<LockManagerOptions['namespace']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<LockManager['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<LockManager[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<LeaderElection['close']>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<LeaderElection[typeof Symbol.asyncDispose]>().returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf<'E_LOCK_TIMEOUT'>().toExtend<LockErrorCode>()
    const check = (err: unknown) => {
      isCacheError(err, 'E_LOCK_TIMEOUT')
      isCacheError(err, 'E_INVALID_ARGUMENT')
      // @ts-expect-error a typo'd code does not compile
      isCacheError(err, 'E_LOCK_TIMOUT')
    }
    expectTypeOf(check).toBeFunction()
  })
})
