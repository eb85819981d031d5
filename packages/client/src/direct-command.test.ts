import { BasicClientSideCache, createClient, defineScript } from '@redis/client'
import { describe, expect, it } from 'vitest'
import { directSender } from './direct-command.js'

describe('directSender', () => {
  it('serves generated methods of commands without a reply transform', () => {
    const client = createClient()
    expect(directSender(client, 'set')).toBeTypeOf('function')
    expect(directSender(client, 'GET')).toBeTypeOf('function')
    expect(directSender(client.withTypeMapping({}), 'get')).toBeTypeOf('function')
  })

  it('leaves every other method to node-redis', () => {
    const client = createClient()
    // A reply transform, a method RedisClient defines itself, not a command, an inherited name.
    for (const name of ['hGetAll', 'SELECT', 'watch', 'nope', 'toString', 'constructor']) {
      expect(directSender(client, name), name).toBeUndefined()
    }
    const scripted = createClient({
      scripts: {
        get: defineScript({
          SCRIPT: 'return 1',
          NUMBER_OF_KEYS: 0,
          parseCommand() {},
          transformReply: () => 1,
        }),
      },
    })
    expect(directSender(scripted, 'get')).toBeUndefined()
    const cached = createClient({ RESP: 3, clientSideCache: new BasicClientSideCache() })
    expect(directSender(cached, 'get')).toBeUndefined()
    // Wrapped by instrumentation: the client's _executeCommand, or the command method itself.
    const patched = createClient() as unknown as { _self: { _executeCommand: (...a: unknown[]) => unknown } }
    const execute = patched._self._executeCommand
    patched._self._executeCommand = (...a: unknown[]) => execute.apply(patched._self, a)
    expect(directSender(patched, 'get')).toBeUndefined()
    const wrapped = createClient()
    const get = wrapped.get
    const view = Object.create(wrapped) as typeof wrapped
    Object.defineProperty(view, 'get', { value: (...a: Parameters<typeof get>) => get.apply(view, a) })
    expect(directSender(view, 'get')).toBeUndefined()
  })

  it('rejects as the method does on a client that is not open', async () => {
    const client = createClient()
    const send = directSender(client, 'set') as (...args: unknown[]) => Promise<unknown>
    const direct = await send('k', 'v').catch((err: unknown) => err)
    const method = await client.set('k', 'v').catch((err: unknown) => err)
    expect(direct).toBeInstanceOf(Error)
    expect((direct as Error).constructor).toBe((method as Error).constructor)
    expect((direct as Error).message).toBe((method as Error).message)
  })

  it('throws what parseCommand throws, as the method rejects with it', async () => {
    const client = createClient()
    const send = directSender(client, 'set') as (...args: unknown[]) => Promise<unknown>
    const method = await client
      .set('k', 'v', { expiration: { type: 'PX', value: null as unknown as number } })
      .catch((e: unknown) => e)
    expect(() => send('k', 'v', { expiration: { type: 'PX', value: null } })).toThrow(
      (method as Error).message,
    )
  })
})
