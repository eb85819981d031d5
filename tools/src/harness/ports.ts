import { createServer } from 'node:net'

const handedOut = new Set<number>()
// Cluster bus ports are port + 10000, so ports stay below 55536; ephemeral ports start at 32768 on Linux,
// so 20000-30000 is preferred and the OS rarely hands those out to outgoing connections.
const LOW = 20000
const HIGH = 30000

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/**
 * Finds a port that is free now, and whose cluster bus port (port + 10000) is free too. Parallel test
 * processes can still race for one; the node start retries on "Address already in use".
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW))
    if (handedOut.has(port)) continue
    if ((await canBind(port)) && (await canBind(port + 10000))) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('[@cache/tools] no free port pair found in 200 attempts')
}
