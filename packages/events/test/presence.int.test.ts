import type { AddressInfo } from 'node:net'
import type { Connection } from '@cache/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { Presence, RoomHub } from '../src/index.js'
import { attachWebSocketServer } from '../src/ws.js'
import { connectTo, type Kind, until } from './helpers.js'

describe.each<Kind>(['standalone', 'cluster'])('presence and rooms on %s', (kind) => {
  let conn: Connection
  beforeAll(async () => {
    conn = await connectTo(kind)
  })
  afterAll(async () => {
    await conn.close()
  })

  it('registers connections per node and room, lists, counts, and forgets on leave', async () => {
    const a = new Presence(conn, { node: 'node-a', scope: 'p1', heartbeat: 0 })
    const b = new Presence(conn, { node: 'node-b', scope: 'p1', heartbeat: 0 })
    await a.join('c1', { user: 'ada', meta: { agent: 'x' } })
    await a.join('c2')
    await b.join('c3', { user: 'bob' })
    await a.enter('c1', 'lobby')
    await b.enter('c3', 'lobby')
    await a.enter('c2', 'kitchen')
    expect(await a.count()).toBe(3)
    expect(await a.count('lobby')).toBe(2)
    const lobby = await b.list({ room: 'lobby' })
    expect(lobby.map((r) => [r.id, r.node, r.user]).sort()).toEqual([
      ['c1', 'node-a', 'ada'],
      ['c3', 'node-b', 'bob'],
    ])
    expect(lobby.find((r) => r.id === 'c1')).toMatchObject({ rooms: ['lobby'], meta: { agent: 'x' } })
    expect((await a.list({ node: 'node-b' })).map((r) => r.id)).toEqual(['c3'])
    expect(Object.fromEntries(await a.nodes())).toEqual({ 'node-a': 2, 'node-b': 1 })
    expect(a.roomsOf('c1')).toEqual(['lobby'])
    await a.exit('c1', 'lobby')
    await a.exit('c1', 'lobby') // no-op
    expect(await a.count('lobby')).toBe(1)
    await a.leave('c2')
    await a.leave('c2')
    expect(await a.count('kitchen')).toBe(0)
    expect(a.localConnections).toEqual(['c1'])
    await expect(a.enter('nope', 'lobby')).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
    await expect(a.join('')).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      details: { field: 'connectionId' },
    })
    await expect(a.enter('c1', '')).rejects.toMatchObject({ details: { field: 'room' } })
    await Promise.all([a.close(), b.close()])
    expect(await a.count()).toBe(0)
    await expect(a.join('c9')).rejects.toMatchObject({ code: 'E_CLOSED' })
  })

  it('expires the connections of a node that stops heartbeating, and sweeps them; live ones survive', async () => {
    let now = 1_000_000
    const clock = () => now
    const dead = new Presence(conn, { node: 'dead', scope: 'p2', ttl: '10s', heartbeat: 0, now: clock })
    const live = new Presence(conn, { node: 'live', scope: 'p2', ttl: '10s', heartbeat: 0, now: clock })
    await dead.join('d1')
    await dead.enter('d1', 'room')
    await live.join('l1')
    await live.enter('l1', 'room')
    now += 6_000
    expect(await live.heartbeat()).toBe(1) // only the live node beats
    now += 6_000 // dead's entries are 12 s old: expired; live's 6 s
    expect((await live.list({ room: 'room' })).map((r) => r.id)).toEqual(['l1'])
    expect(await live.count()).toBe(1)
    expect(await live.sweep()).toBe(1)
    expect(await live.sweep()).toBe(0)
    // The dead node comes back (it was only stalled): its heartbeat restores its records.
    expect(await dead.heartbeat()).toBe(1)
    expect((await live.list()).map((r) => r.id).sort()).toEqual(['d1', 'l1'])
    await Promise.all([dead.close(), live.close()])
  })

  it('keeps live connections alive with its own heartbeat timer', async () => {
    const live = new Presence(conn, { node: 'beating', scope: 'p3', ttl: 300, heartbeat: 60 })
    await live.join('c1')
    await live.enter('c1', 'room')
    await new Promise((r) => setTimeout(r, 600)) // twice the ttl: only heartbeats keep it listed
    expect(await live.count()).toBe(1)
    expect(await live.count('room')).toBe(1)
    await live.leave('c1') // the last local connection: the timer stops
    expect(await live.count()).toBe(0)
    await live.close()
  })

  it('validates presence options naming the field', () => {
    expect(() => new Presence(conn, { ttl: 5 })).toThrow(/option "ttl"/)
    expect(() => new Presence(conn, { ttl: '10s', heartbeat: '20s' })).toThrow(
      /option "heartbeat" must be shorter/,
    )
    expect(() => new Presence(conn, { scope: '' })).toThrow(/option "scope"/)
    expect(() => new RoomHub(conn, { channelPrefix: 1 } as never)).toThrow(/option "channelPrefix"/)
    expect(() => new RoomHub(conn, { bogus: 1 } as never)).toThrow(/option "bogus"/)
  })

  it('broadcasts to room members on every node, except the sender when asked', async () => {
    const other = await connectTo(kind, { namespace: conn.keys.namespace })
    const hubA = new RoomHub(conn, { node: 'a', scope: 'h1' })
    const hubB = new RoomHub(other, { node: 'b', scope: 'h1' })
    try {
      const got: Record<string, unknown[]> = { a1: [], a2: [], b1: [] }
      await hubA.connect('a1', (m) => void got.a1!.push(m))
      await hubA.connect('a2', (m) => void got.a2!.push(m))
      await hubB.connect('b1', (m) => void got.b1!.push(m))
      await hubA.join('a1', 'chat')
      await hubB.join('b1', 'chat')
      await hubA.join('a2', 'other')
      await hubA.broadcast('chat', { text: 'hello' }, { except: 'a1' })
      await hubB.broadcast('chat', 'second')
      await until('fan-out', () => got.b1!.length === 2 && got.a1!.length === 1)
      await new Promise((r) => setTimeout(r, 30))
      expect(got).toEqual({ a1: ['second'], a2: [], b1: [{ text: 'hello' }, 'second'] })
      expect((await hubA.members('chat')).map((m) => `${m.id}@${m.node}`).sort()).toEqual(['a1@a', 'b1@b'])
      await hubB.leave('b1', 'chat')
      expect(hubB.isIn('b1', 'chat')).toBe(false)
      await hubA.disconnect('a1')
      expect(await hubA.members('chat')).toEqual([])
      await expect(hubA.broadcast('', 1)).rejects.toMatchObject({ details: { field: 'room' } })
      await expect(hubA.connect('x', 1 as never)).rejects.toMatchObject({ details: { field: 'deliver' } })
    } finally {
      await Promise.all([hubA.close(), hubB.close()])
      await hubA.close()
      await other.close()
    }
    await expect(hubA.connect('late', () => {})).rejects.toMatchObject({ code: 'E_CLOSED' })
  })
})

describe('WebSocket fan-out with ws (two nodes)', () => {
  let conn: Connection
  let other: Connection
  beforeAll(async () => {
    conn = await connectTo('standalone')
    other = await connectTo('standalone', { namespace: conn.keys.namespace })
  })
  afterAll(async () => {
    await Promise.all([conn.close(), other.close()])
  })

  function open(port: number): Promise<{ ws: WebSocket; inbox: any[] }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`)
      const inbox: any[] = []
      ws.on('message', (d) => inbox.push(JSON.parse(String(d))))
      ws.once('open', () => resolve({ ws, inbox }))
      ws.once('error', reject)
    })
  }

  it('joins rooms, broadcasts across servers, tracks presence, refuses unknown clients and bad frames', async () => {
    const hubA = new RoomHub(conn, { node: 'ws-a', scope: 'ws' })
    const hubB = new RoomHub(other, { node: 'ws-b', scope: 'ws' })
    const listen = () =>
      new Promise<WebSocketServer>((resolve) => {
        const server: WebSocketServer = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () =>
          resolve(server),
        )
      })
    const [wssA, wssB] = await Promise.all([listen(), listen()])
    let n = 0
    const detachA = attachWebSocketServer(wssA, hubA, {
      identify: (req) => (req.url?.includes('deny') ? undefined : { id: `a${++n}`, user: 'u' }),
      maxMessageBytes: 200,
    })
    const detachB = attachWebSocketServer(wssB, hubB)
    const portA = (wssA.address() as AddressInfo).port
    const portB = (wssB.address() as AddressInfo).port
    try {
      const alice = await open(portA)
      const bob = await open(portB)
      alice.ws.send(JSON.stringify({ type: 'join', room: 'lobby' }))
      bob.ws.send(JSON.stringify({ type: 'join', room: 'lobby' }))
      await until('joined', () => alice.inbox.length === 1 && bob.inbox.length === 1)
      expect(alice.inbox[0]).toEqual({ type: 'joined', room: 'lobby' })
      expect((await hubA.members('lobby')).map((m) => m.node).sort()).toEqual(['ws-a', 'ws-b'])
      bob.ws.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: 'hi all' } }))
      await until('delivered', () => alice.inbox.length === 2 && bob.inbox.length === 2)
      expect(alice.inbox[1]).toEqual({ type: 'message', room: 'lobby', data: { text: 'hi all' } })
      // Bad frames get an error reply and change nothing.
      alice.ws.send('not json')
      alice.ws.send(JSON.stringify({ type: 'shout' }))
      alice.ws.send(JSON.stringify({ type: 'broadcast', room: 'elsewhere', data: 1 }))
      alice.ws.send(JSON.stringify({ type: 'join', room: 'x'.repeat(300) }))
      await until('errors', () => alice.inbox.length === 6)
      expect(alice.inbox.slice(2).map((m) => m.type)).toEqual(['error', 'error', 'error', 'error'])
      alice.ws.send(JSON.stringify({ type: 'leave', room: 'lobby' }))
      await until('left', () => alice.inbox.length === 7)
      expect(await hubA.presence.count('lobby')).toBe(1)
      // Closing a socket unregisters it.
      bob.ws.close()
      await until('bob gone', async () => (await hubA.presence.count()) === 1)
      // identify() refusing a client closes it with 4401.
      const denied = new WebSocket(`ws://127.0.0.1:${portA}/deny`)
      const code = await new Promise((resolve) => denied.once('close', resolve))
      expect(code).toBe(4401)
      alice.ws.close()
      await until('all gone', async () => (await hubA.presence.count()) === 0)
    } finally {
      await Promise.all([detachA(), detachB()])
      await Promise.all([hubA.close(), hubB.close()])
      await Promise.all([new Promise((r) => wssA.close(r)), new Promise((r) => wssB.close(r))])
    }
  })
})
