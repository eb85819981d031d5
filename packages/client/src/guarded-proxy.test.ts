import { describe, expect, it } from 'vitest'
import type { CommandPath } from './command-path.js'
import { guardedProxy } from './guarded-proxy.js'
import type { AnyRedis } from './types.js'

/** A client with one command, one state getter and one helper that is not a command. */
class FakeClient {
  ready = false
  get isReady(): boolean {
    return this.ready
  }
  async get(key: string): Promise<string> {
    return `value of ${key}`
  }
  duplicate(): this {
    return this
  }
}

function setup() {
  const target = new FakeClient()
  const calls: Array<{ name: string; target: object | undefined; args: readonly unknown[] }> = []
  const path = {
    call(
      name: string,
      t: object | undefined,
      method: (...a: unknown[]) => Promise<unknown>,
      args: readonly unknown[],
    ) {
      calls.push({ name, target: t, args })
      return method.apply(t, args as unknown[])
    },
  } as unknown as CommandPath
  const redis = guardedProxy(target as unknown as AnyRedis, path, false) as unknown as FakeClient &
    Record<string, unknown>
  return { target, calls, redis }
}

describe('guardedProxy', () => {
  it('runs commands on the path, with the client as `this`, one wrapper per name', async () => {
    const { target, calls, redis } = setup()
    const first = redis.get
    expect(await redis.get('k')).toBe('value of k')
    expect(redis.get).toBe(first)
    expect(calls).toEqual([{ name: 'GET', target, args: ['k'] }])
  })

  it('reads state from the client each time and passes helpers through bound to it', () => {
    const { target, redis } = setup()
    expect(redis.isReady).toBe(false)
    target.ready = true
    expect(redis.isReady).toBe(true)
    expect(redis.duplicate()).toBe(target)
  })

  it('writes to the client, as the Proxy alone did', () => {
    const { target, redis } = setup()
    redis.ready = true
    expect(target.ready).toBe(true)
    expect(Object.hasOwn(redis, 'ready')).toBe(false)
  })
})
