/**
 * A chat-room WebSocket server on @cache/events: run several copies on different ports against one Redis
 * and clients connected to any of them share rooms and presence.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8080 node --import tsx packages/events/examples/ws-rooms.ts
 *   # in a browser console: ws = new WebSocket('ws://localhost:8080/?user=ada')
 *   #   ws.onmessage = (m) => console.log(m.data)
 *   #   ws.send(JSON.stringify({ type: 'join', room: 'lobby' }))
 *   #   ws.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'hello' }))
 */
import { connect } from '@cache/client'
import { RoomHub } from '@cache/events'
import { attachWebSocketServer } from '@cache/events/ws'
import { WebSocketServer } from 'ws'

const port = Number(process.env.PORT ?? 8080)
const conn = await connect(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const hub = new RoomHub(conn, { node: `ws-${port}`, ttl: '30s' })
const wss = new WebSocketServer({ port })
const detach = attachWebSocketServer(wss, hub, {
  // Authenticate here (a cookie, a token); returning undefined refuses the socket with close code 4401.
  identify: (req) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user')
    return user ? { user } : undefined
  },
})
// Any node may sweep the connections of crashed nodes.
const sweeper = setInterval(() => void hub.presence.sweep().catch(() => {}), 10_000).unref()
console.log(`ws-rooms listening on ws://localhost:${port} as node ${hub.node}`)

const shutdown = async () => {
  clearInterval(sweeper)
  await detach()
  await hub.close()
  await new Promise((resolve) => wss.close(resolve))
  await conn.close()
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
