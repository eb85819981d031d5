import diagnostics from 'node:diagnostics_channel'
import { uniquePrefix } from '@cache/tools'
import { createClient } from '@redis/client'
import { Redis as IORedis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  type CacheErrorCode,
  type CommandEvent,
  type Connection,
  connect,
  isCacheError,
} from '../src/index.js'

const { standalone } = inject('redis')

async function rejectsWith(p: Promise<unknown>, code: CacheErrorCode): Promise<Error> {
  try {
    await p
  } catch (err) {
    expect(isCacheError(err, code), `expected ${code}, got ${String(err)}`).toBe(true)
    return err as Error
  }
  throw new Error(`expected ${code}, but it resolved`)
}

describe('connect() on a standalone server', () => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connect({ url: standalone.url, namespace: uniquePrefix('client') })
  })
  afterAll(() => conn.close())

  it('reports its topology and runs commands through the guarded path', async () => {
    expect(conn.topology).toBe('standalone')
    const key = conn.keys.key('greeting')
    await conn.redis.set(key, 'hello')
    expect(await conn.redis.get(key)).toBe('hello')
    expect(await conn.send(['GET', key])).toBe('hello')
    const buf = await conn.send<Buffer>(['GET', key], { buffers: true })
    expect(Buffer.isBuffer(buf)).toBe(true)
    expect(buf.toString()).toBe('hello')
  })

  it('accepts a URL string and the environment', async () => {
    const byUrl = await connect(standalone.url)
    expect(await byUrl.redis.ping()).toBe('PONG')
    await byUrl.close()
    const saved = process.env.REDIS_URL
    process.env.REDIS_URL = standalone.url
    try {
      const byEnv = await connect()
      expect(byEnv.topology).toBe('standalone')
      expect(await byEnv.redis.ping()).toBe('PONG')
      await byEnv.close()
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL
      else process.env.REDIS_URL = saved
    }
  })

  it('maps server error replies to E_COMMAND without tripping the breaker', async () => {
    const key = conn.keys.key('list')
    await conn.redis.lPush(key, 'x')
    const err = await rejectsWith(conn.redis.get(key), 'E_COMMAND')
    expect(err.message).toContain('WRONGTYPE')
    expect(conn.breakerState).toBe('closed')
  })

  it('runs scripts by SHA and reloads them after SCRIPT FLUSH', async () => {
    const incr = conn.defineScript<number>('test-incr', "return redis.call('INCRBY', KEYS[1], ARGV[1])", {
      keys: 1,
    })
    const key = conn.keys.key('counter')
    expect(await incr([key], [2])).toBe(2)
    await conn.send(['SCRIPT', 'FLUSH'])
    expect(await incr([key], [3])).toBe(5)
    expect(await incr([key], [1])).toBe(6)
    expect(conn.defineScript('test-incr', "return redis.call('INCRBY', KEYS[1], ARGV[1])", { keys: 1 })).toBe(
      incr,
    )
  })

  it('rejects bad script calls before sending', async () => {
    const two = conn.defineScript('test-two', "return redis.call('MGET', KEYS[1], KEYS[2])", { keys: 2 })
    await rejectsWith(two([conn.keys.key('a')]), 'E_INVALID_ARGUMENT')
    await rejectsWith(two([conn.keys.key('a'), conn.keys.key('b')]), 'E_CROSSSLOT')
    expect(await two([conn.keys.tagged('t', 'a'), conn.keys.tagged('t', 'b')])).toEqual([null, null])
    expect(() => conn.defineScript('test-two', 'return 1', { keys: 2 })).toThrow(/already defined/)
    const cross = conn.defineScript('test-cross', "return redis.call('MGET', KEYS[1], KEYS[2])", {
      keys: 2,
      crossSlot: true,
    })
    expect(await cross([conn.keys.key('a'), conn.keys.key('b')])).toEqual([null, null])
  })

  it('returns script replies as Buffers on request', async () => {
    const get = conn.defineScript<Buffer>('test-getbuf', "return redis.call('GET', KEYS[1])", {
      keys: 1,
      buffers: true,
    })
    const key = conn.keys.key('bin')
    await conn.send(['SET', key, Buffer.from([0, 255, 1])])
    expect([...(await get([key]))]).toEqual([0, 255, 1])
  })

  it('scans only its namespace, in batches, never with KEYS', async () => {
    const keys = conn.keys.child('scan')
    for (let i = 0; i < 120; i++) await conn.redis.set(keys.key(i), '1')
    await conn.redis.set(`${keys.namespace}x:not-mine`, '1')
    const seen = new Set<string>()
    for await (const batch of conn.scan(keys.pattern('*'), { count: 25 })) for (const k of batch) seen.add(k)
    expect(seen.size).toBe(120)
    expect([...seen].every((k) => keys.owns(k))).toBe(true)
  })

  it('reports health', async () => {
    const h = await conn.health()
    expect(h).toMatchObject({ ok: true, topology: 'standalone', role: 'master', breaker: 'closed' })
    expect(h.version).toMatch(/^\d+\.\d+/)
    expect(h.usedMemory).toBeGreaterThan(0)
    expect(h.latencyMs).toBeGreaterThanOrEqual(0)
    expect(h.nodes).toHaveLength(1)
  })

  it('publishes every command on diagnostics_channel cache:client:command', async () => {
    const events: CommandEvent[] = []
    const listener = (e: unknown) => events.push(e as CommandEvent)
    diagnostics.subscribe('cache:client:command', listener)
    try {
      await conn.redis.set(conn.keys.key('diag'), '1')
      await conn.redis.get(conn.keys.key('list')).catch(() => {})
    } finally {
      diagnostics.unsubscribe('cache:client:command', listener)
    }
    expect(events[0]).toMatchObject({ command: 'SET', topology: 'standalone', ok: true })
    expect(events[0]?.durationMs).toBeGreaterThan(0)
    expect(events[1]).toMatchObject({ command: 'GET', ok: false, errorCode: 'E_COMMAND' })
  })

  it('does not publish the NOSCRIPT reply of a script the server has not seen as a failed command', async () => {
    const script = conn.defineScript(`diag-noscript-${Date.now()}`, `return redis.call('INCR', KEYS[1])`, {
      keys: 1,
    })
    const events: CommandEvent[] = []
    const listener = (e: unknown) => events.push(e as CommandEvent)
    diagnostics.subscribe('cache:client:command', listener)
    try {
      await conn.redis.scriptFlush()
      expect(await script([conn.keys.key('noscript')])).toBe(1)
      expect(await script([conn.keys.key('noscript')])).toBe(2)
    } finally {
      diagnostics.unsubscribe('cache:client:command', listener)
    }
    const scripted = events.filter((e) => e.command.startsWith('EVALSHA diag-noscript'))
    expect(scripted.length).toBeGreaterThanOrEqual(2)
    expect(scripted.every((e) => e.ok)).toBe(true)
    expect(events.filter((e) => !e.ok)).toEqual([])
  })

  it('delivers pub/sub on a dedicated connection shared by callers', async () => {
    const sub = await conn.subscriber()
    expect(await conn.subscriber()).toBe(sub)
    const channel = conn.keys.key('chan')
    const got: string[] = []
    const pattern: string[] = []
    await sub.subscribe(channel, (m) => got.push(m))
    await sub.pSubscribe(`${conn.keys.prefix}ch*`, (m, ch) => pattern.push(`${ch}=${m}`))
    await conn.redis.publish(channel, 'one')
    await expect.poll(() => got).toEqual(['one'])
    await expect.poll(() => pattern).toEqual([`${channel}=one`])
    await sub.unsubscribe(channel)
    await sub.pUnsubscribe(`${conn.keys.prefix}ch*`)
    await conn.redis.publish(channel, 'two')
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toEqual(['one'])
  })

  it('gives BullMQ (ioredis) equivalent connection options', async () => {
    const opts = conn.bullmq()
    expect(opts.kind).toBe('standalone')
    if (opts.kind === 'cluster') throw new Error('unreachable')
    expect(opts.options.maxRetriesPerRequest).toBeNull()
    const io = new IORedis(opts.options as never)
    try {
      await io.set(conn.keys.key('from-ioredis'), 'yes')
      expect(await conn.redis.get(conn.keys.key('from-ioredis'))).toBe('yes')
    } finally {
      io.disconnect()
    }
  })

  it('wraps an existing node-redis client and leaves it open on close', async () => {
    const raw = createClient({ url: standalone.url })
    const wrapped = await connect(raw as never, { namespace: uniquePrefix('wrap') })
    expect(wrapped.topology).toBe('standalone')
    expect(raw.isOpen).toBe(true)
    // Its real address, not a default, reaches bullmq() and health().
    expect(wrapped.config.port).toBe(standalone.port)
    expect((await wrapped.health()).nodes[0]?.address).toBe(`127.0.0.1:${standalone.port}`)
    await wrapped.redis.set(wrapped.keys.key('k'), 'v')
    expect(await raw.get(wrapped.keys.key('k'))).toBe('v')
    const sub = await wrapped.subscriber()
    await sub.subscribe(wrapped.keys.key('c'), () => {})
    await wrapped.close()
    expect(raw.isOpen).toBe(true)
    await raw.close()
  })
})

describe('close()', () => {
  it('drains in-flight commands, then rejects new ones with E_CLOSED; idempotent', async () => {
    const conn = await connect({ url: standalone.url, namespace: uniquePrefix('close') })
    const events: string[] = []
    conn.on('end', () => events.push('end'))
    // DEBUG SLEEP keeps a command in flight while close() is called.
    const slow = conn.send(['DEBUG', 'SLEEP', '0.2'])
    const closing = conn.close()
    expect(conn.closed).toBe(true)
    await expect(slow).resolves.toBe('OK')
    await closing
    await conn.close()
    expect(events).toEqual(['end'])
    await rejectsWith(conn.redis.get('x'), 'E_CLOSED')
    await rejectsWith(conn.subscriber(), 'E_CLOSED')
  })
})

describe('connect() failures', () => {
  it('fails fast with E_UNAVAILABLE when nothing listens', async () => {
    const started = Date.now()
    const err = await rejectsWith(
      connect({ url: 'redis://127.0.0.1:1', connectTimeout: '300ms' }),
      'E_UNAVAILABLE',
    )
    expect(err.message).toContain('127.0.0.1:1')
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('rejects bad config with E_INVALID_OPTION before connecting', async () => {
    await rejectsWith(connect({ port: 0 }), 'E_INVALID_OPTION')
    await rejectsWith(connect('redis://u:secret@h:1/x'), 'E_INVALID_OPTION')
  })

  it('never lets a password reach an error message', async () => {
    const err = await rejectsWith(
      connect({ url: 'redis://user:hunter2@127.0.0.1:1', connectTimeout: '200ms' }),
      'E_UNAVAILABLE',
    )
    expect(err.message).not.toContain('hunter2')
    expect(String((err as { cause?: unknown }).cause)).not.toContain('hunter2')
  })
})

describe('replica reads on a standalone server with a replica', () => {
  it('reads from the configured replica', async () => {
    const conn = await connect({
      url: standalone.url,
      replicaUrls: standalone.replicaPorts.map((p) => `redis://127.0.0.1:${p}`),
      namespace: uniquePrefix('replica'),
    })
    try {
      expect(conn.replicas).not.toBe(conn.unguarded)
      const key = conn.keys.key('r')
      await conn.redis.set(key, 'v')
      await conn.send(['WAIT', '1', '1000'])
      const replica = conn.replicas as typeof conn.redis
      expect(await replica.get(key)).toBe('v')
      const info = await replica.info('replication')
      expect(info).toContain('role:slave')
    } finally {
      await conn.close()
    }
  })
})
