import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { inject } from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))

/** A connection to one of the shared topologies, in a namespace of its own. */
export async function sharedConnection(
  kind: 'standalone' | 'cluster',
  namespace = uniquePrefix('metrics'),
): Promise<Connection> {
  const { standalone, cluster } = inject('redis')
  if (kind === 'cluster') return connect({ cluster: { nodes: cluster.nodes }, namespace })
  return connect({ url: standalone.url, namespace })
}

/** The target argument of a child process: a URL or a JSON list of cluster nodes. */
export function target(kind: 'standalone' | 'cluster'): string {
  const { standalone, cluster } = inject('redis')
  return kind === 'cluster' ? JSON.stringify(cluster.nodes) : standalone.url
}

/** Runs a script of this folder in a child process; resolves when it exits 0. */
export function runChild(script: string, args: string[]): Promise<void> {
  const file = fileURLToPath(new URL(script, import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', file, ...args], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (c) => {
      stderr += c
    })
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`)),
    )
  })
}
