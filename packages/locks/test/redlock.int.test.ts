import { type CommandEvent, type Connection, commandChannel, connect } from '@cache/client'
import { type StandaloneTopology, startStandalone, uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redlock } from '../src/index.js'
import { codeOf, sleep } from './helpers.js'

describe('Redlock over three independent servers', () => {
  let servers: StandaloneTopology[]
  let conns: Connection[]

  beforeAll(async () => {
    servers = await Promise.all([startStandalone(), startStandalone(), startStandalone()])
    const namespace = uniquePrefix('redlock')
    conns = await Promise.all(
      servers.map((s) =>
        connect({
          url: s.url,
          namespace,
          commandTimeout: '100ms',
          offlineQueue: false,
          reconnect: { initialDelay: '20ms', maxDelay: '100ms' },
        }),
      ),
    )
  })
  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()))
    await Promise.all(servers.map((s) => s.stop()))
  })

  it('excludes other Redlock clients and releases on every node', async () => {
    const a = new Redlock(conns, { retryInterval: 20 })
    const b = new Redlock(conns, { retryInterval: 20 })
    expect(a.quorum).toBe(2)
    const lock = await a.acquire('job', { ttl: '5s' })
    const errors: string[] = []
    const onCommand = (e: unknown) => {
      const event = e as CommandEvent
      if (event.errorCode) errors.push(`${event.command}: ${event.errorCode}`)
    }
    commandChannel.subscribe(onCommand)
    expect(await b.tryAcquire('job')).toBeNull()
    expect(await codeOf(b.acquire('job', { waitTimeout: 60 }))).toBe('E_LOCK_TIMEOUT')
    commandChannel.unsubscribe(onCommand)
    // A busy lock is a clean refusal on every node, not a script error.
    expect(errors).toEqual([])
    await lock.extend('5s')
    const waiting = b.acquire('job', { ttl: '5s', waitTimeout: '2s' })
    await sleep(30)
    await lock.release()
    const next = await waiting
    await next.release()
    expect(await codeOf(lock.release())).toBe('ok')
    const value = await a.using('job', { ttl: '1s' }, (l) => l.token)
    expect(value).toBeGreaterThan(0)
  })

  it('a lease lost on a quorum of nodes aborts the watchdog holder', async () => {
    const redlock = new Redlock(conns)
    const lock = await redlock.acquire('lost', { ttl: 150, autoExtend: true })
    await Promise.all(conns.map((c) => c.send(['DEL', `${c.keys.namespace}:lock:{lost}`])))
    await new Promise((r) => lock.signal.addEventListener('abort', r))
    expect(lock.signal.reason.code).toBe('E_LOCK_LOST')
    expect(await codeOf(lock.release())).toBe('E_LOCK_LOST')
  })

  it('one server down: still acquires; two down: E_LOCK_TIMEOUT without quorum', async () => {
    const redlock = new Redlock(conns, { retryInterval: 20, nodeTimeout: 100 })
    await servers[0]!.master.kill()
    const lock = await redlock.acquire('quorum', { ttl: '5s', waitTimeout: '1s' })
    await lock.extend('5s')
    await lock.release()
    await servers[1]!.master.kill()
    const err = await redlock.acquire('quorum', { ttl: '5s', waitTimeout: 150 }).catch((e) => e)
    expect(err.code).toBe('E_LOCK_TIMEOUT')
    expect(err.details).toMatchObject({ quorum: 2, granted: 1 })
    expect(await redlock.tryAcquire('quorum')).toBeNull()
  })

  it('rejects bad options naming the field', () => {
    expect(() => new Redlock([])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT', field: 'connections' }),
    )
    expect(() => new Redlock(conns, { quorum: 1 })).toThrow(expect.objectContaining({ field: 'quorum' }))
    expect(() => new Redlock(conns, { quorum: 4 })).toThrow(expect.objectContaining({ field: 'quorum' }))
    expect(() => new Redlock(conns, { nodeTimeout: -1 })).toThrow(
      expect.objectContaining({ field: 'nodeTimeout' }),
    )
  })
})
