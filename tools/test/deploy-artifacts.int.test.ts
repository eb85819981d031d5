import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { makeTempDir, removeTempDir, trackPid, untrackPid } from '../src/harness/process-registry.js'
import {
  freePort,
  parseInfo,
  type RespReply,
  respCommand,
  serverBin,
  serverVersion,
  waitFor,
} from '../src/index.js'

const deploy = fileURLToPath(new URL('../../docs/deploy/', import.meta.url))
const read = (file: string) => readFileSync(join(deploy, file), 'utf8')
const CONFS = ['standalone.conf', 'replica.conf', 'sentinel.conf', 'cluster-node.conf'] as const

// ---------------------------------------------------------------------------------------------------------
// A strict YAML subset parser: block mappings and sequences, plain and double-quoted scalars, JSON flow
// collections, `|` / `>-` block scalars, comments, `---` documents. Anything else (tabs, anchors, aliases,
// tags, single-line flow maps that are not JSON, complex keys) is an error, so the artifacts stay in a subset
// that this test understands completely (the `yaml` package is not installed in this workspace).
// ---------------------------------------------------------------------------------------------------------
type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml }

interface Line {
  indent: number
  text: string
  no: number
}

function parseYamlDocuments(source: string, file: string): Yaml[] {
  const raw = source.split('\n')
  const docs: string[][] = [[]]
  for (const line of raw) {
    if (line.includes('\t')) throw new Error(`${file}: tab character in ${JSON.stringify(line)}`)
    if (line === '---') docs.push([])
    else docs.at(-1)!.push(line)
  }
  return docs
    .filter((d) => d.some((l) => l.trim() && !l.trim().startsWith('#')))
    .map((d) => parseYaml(d, file))
}

function parseYaml(rawLines: string[], file: string): Yaml {
  let pos = 0
  const fail = (no: number, why: string): never => {
    throw new Error(`${file}: line ${no + 1} (of its document): ${why}: ${JSON.stringify(rawLines[no])}`)
  }
  const meaningful = (i: number) => {
    const t = rawLines[i]!.trim()
    return t !== '' && !t.startsWith('#')
  }
  const peek = (): Line | undefined => {
    while (pos < rawLines.length && !meaningful(pos)) pos++
    if (pos >= rawLines.length) return undefined
    const l = rawLines[pos]!
    return { indent: l.length - l.trimStart().length, text: l.trim(), no: pos }
  }

  const scalar = (text: string, no: number): Yaml => {
    if (text.startsWith('"') || text.startsWith('[') || text.startsWith('{')) {
      try {
        return JSON.parse(text) as Yaml
      } catch {
        fail(no, 'not a JSON-compatible flow value')
      }
    }
    const single = /^'((?:[^']|'')*)'(\s+#.*)?$/.exec(text)
    if (single) return single[1]!.replaceAll("''", "'")
    if (/^[&*!'?|>%@`]/.test(text)) fail(no, 'unsupported YAML syntax')
    const value = text.replace(/\s+#.*$/, '')
    if (value === 'true' || value === 'false') return value === 'true'
    if (value === 'null' || value === '~') return null
    if (/^-?\d+$/.test(value)) return Number(value)
    return value
  }

  const blockScalar = (style: string, parentIndent: number): string => {
    const lines: string[] = []
    let i = pos
    while (i < rawLines.length) {
      const l = rawLines[i]!
      if (l.trim() !== '' && l.length - l.trimStart().length <= parentIndent) break
      lines.push(l)
      i++
    }
    pos = i
    while (lines.length && lines.at(-1)!.trim() === '') lines.pop()
    const first = lines.find((l) => l.trim() !== '')
    const indent = first ? first.length - first.trimStart().length : 0
    const body = lines.map((l) => l.slice(indent))
    if (style === '|') return `${body.join('\n')}\n`
    if (style === '|-') return body.join('\n')
    if (style === '>-') return body.map((l) => l.trim()).join(' ')
    return fail(pos - 1, `unsupported block scalar style ${style}`)
  }

  // A value after `key:` or `- ` on line `no` (the current line), given the indent of that line.
  const valueAfter = (rest: string, indent: number, no: number): Yaml => {
    pos = no + 1
    if (rest === '') {
      const next = peek()
      if (!next || next.indent < indent || (next.indent === indent && !next.text.startsWith('- ')))
        return fail(no, 'empty value')
      if (next.indent === indent) return sequence(indent)
      if (/^[[{]/.test(next.text)) return valueAfter(next.text, next.indent, next.no)
      return block(next.indent)
    }
    if (/^[|>]/.test(rest)) return blockScalar(rest, indent)
    if (/^[[{]/.test(rest) && !flowClosed(rest)) {
      // A flow collection over several lines (as formatters write long ones), with trailing commas.
      let text = rest
      while (pos < rawLines.length && !flowClosed(text)) text += ` ${rawLines[pos++]!.trim()}`
      return scalar(text.replace(/,\s*([\]}])/g, '$1'), no)
    }
    return scalar(rest, no)
  }

  /** True when the brackets of a flow collection balance (outside double-quoted strings). */
  const flowClosed = (text: string): boolean => {
    let depth = 0
    let quoted = false
    for (let i = 0; i < text.length; i++) {
      const c = text[i]
      if (quoted) {
        if (c === '\\') i++
        else if (c === '"') quoted = false
      } else if (c === '"') quoted = true
      else if (c === '[' || c === '{') depth++
      else if (c === ']' || c === '}') depth--
    }
    return depth === 0
  }

  const KEY = /^([A-Za-z0-9_./-]+|"[^"]+"):(?:\s+(.*))?$/

  function mapping(indent: number, firstLine?: { text: string; no: number }): Record<string, Yaml> {
    const out: Record<string, Yaml> = {}
    const entry = (text: string, no: number) => {
      const m = KEY.exec(text) ?? fail(no, 'not a `key: value` line')
      const key = m[1]!.startsWith('"') ? (JSON.parse(m[1]!) as string) : m[1]!
      if (key in out) fail(no, `duplicate key ${key}`)
      out[key] = valueAfter((m[2] ?? '').trim(), indent, no)
    }
    if (firstLine) entry(firstLine.text, firstLine.no)
    for (let l = peek(); l && l.indent === indent && !l.text.startsWith('- '); l = peek()) entry(l.text, l.no)
    const l = peek()
    if (l && l.indent > indent) fail(l.no, 'unexpected indentation')
    return out
  }

  function sequence(indent: number): Yaml[] {
    const out: Yaml[] = []
    for (let l = peek(); l && l.indent === indent && l.text.startsWith('- '); l = peek()) {
      const rest = l.text.slice(2).trim()
      if (KEY.test(rest) && !rest.startsWith('"')) {
        // `- key: value` opens a mapping whose entries sit two columns further in.
        out.push(mapping(indent + 2, { text: rest, no: l.no }))
      } else out.push(valueAfter(rest, indent, l.no))
    }
    return out
  }

  function block(indent: number): Yaml {
    const l = peek()
    if (!l) return null
    return l.text.startsWith('- ') ? sequence(indent) : mapping(indent)
  }

  const top = peek()
  if (!top) return null
  if (top.indent !== 0) fail(top.no, 'a document starts at column 0')
  const doc = block(0)
  const rest = peek()
  if (rest) fail(rest.no, 'content after the document')
  return doc
}

type Obj = Record<string, Yaml>
const obj = (v: Yaml | undefined): Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error(`not a mapping: ${JSON.stringify(v)}`)
  return v
}
const arr = (v: Yaml | undefined): Yaml[] => {
  if (!Array.isArray(v)) throw new Error(`not a sequence: ${JSON.stringify(v)}`)
  return v
}

/** `directive args…` lines of a .conf (comments and blanks dropped). */
function directives(conf: string): string[][] {
  return conf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/))
}
function directive(conf: string, ...name: string[]): string[] {
  const found = directives(conf).filter((d) => name.every((n, i) => d[i] === n))
  if (found.length !== 1) throw new Error(`expected one "${name.join(' ')}" line, found ${found.length}`)
  return found[0]!.slice(name.length)
}

const standalone = read('standalone.conf')
const replica = read('replica.conf')
const sentinel = read('sentinel.conf')
const clusterNode = read('cluster-node.conf')
const acl = read('users.acl')
const env = Object.fromEntries(
  read('env.example')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
)
/** The users the templates log in as, with the passwords the templates give them (users.acl has none). */
const passwords: Record<string, string> = {
  [env.REDIS_USERNAME!]: env.REDIS_PASSWORD!,
  [directive(replica, 'masteruser')[0]!]: directive(replica, 'masterauth')[0]!,
  [directive(sentinel, 'sentinel', 'auth-user', 'mymaster')[0]!]: directive(
    sentinel,
    'sentinel',
    'auth-pass',
    'mymaster',
  )[0]!,
  ops: 'ops-test-password',
}
/**
 * The ACL file the servers boot with: the users the templates log in as, with their passwords. users.acl
 * itself is the security package's generated profile, tested there; here only its user names are checked.
 */
const bootAcl = `user default off\n${Object.entries(passwords)
  .map(([name, pw]) => `user ${name} on >${pw} ~* &* +@all`)
  .join('\n')}\n`

const masterPort = Number(directive(standalone, 'port')[0])
const [monitorName, monitorHost, monitorPort, quorum] = directive(sentinel, 'sentinel', 'monitor')
const [replicaOfHost, replicaOfPort] = directive(replica, 'replicaof')
const sentinelPort = Number(directive(sentinel, 'port')[0])
const clusterPort = Number(directive(clusterNode, 'port')[0])

describe('the YAML subset parser', () => {
  it('parses what the artifacts use and refuses what it does not understand', () => {
    const doc = obj(
      parseYaml(
        [
          'a: 1',
          'b:',
          '  - x',
          '  - k: "v"',
          '    l: [1, "two"]',
          'c: |',
          '  # kept',
          '  line',
          'd: >-',
          '  folded',
          '  text',
          'e: {}',
          'f:',
          '  [',
          '    "sh",',
          '    "-c \\"x\\"",',
          '  ]',
          "g: 'it''s'",
        ],
        'sample',
      ),
    )
    expect(doc).toEqual({
      a: 1,
      b: ['x', { k: 'v', l: [1, 'two'] }],
      c: '# kept\nline\n',
      d: 'folded text',
      e: {},
      f: ['sh', '-c "x"'],
      g: "it's",
    })
    expect(() => parseYaml(['a: &anchor 1'], 'bad')).toThrow(/unsupported/)
    expect(() => parseYaml(['a: 1', 'a: 2'], 'bad')).toThrow(/duplicate/)
    expect(() => parseYaml(['a: [1, 2'], 'bad')).toThrow(/JSON/)
    expect(() => parseYamlDocuments('a:\n\tb: 1\n', 'bad')).toThrow(/tab/)
  })
})

describe('the .conf templates agree with each other', () => {
  it('replica and sentinels point at the standalone master; the env example at its users', () => {
    expect(replica).toMatch(/^include \/etc\/redis\/standalone\.conf$/m)
    expect([replicaOfHost, Number(replicaOfPort)]).toEqual([monitorHost, masterPort])
    expect(Number(monitorPort)).toBe(masterPort)
    expect(Number(quorum)).toBe(2)
    expect(monitorName).toBe('mymaster')
    expect(env.REDIS_URL).toBe(`redis://${monitorHost}:${masterPort}`)
    // Every user a template logs in as exists in users.acl (which stays the only place that defines them).
    for (const user of Object.keys(passwords))
      expect(acl, `users.acl defines ${user}`).toMatch(new RegExp(`^user ${user} `, 'm'))
    expect(acl).toMatch(/^user default off$/m)
  })
})

describe('docker-compose.yml', () => {
  const [compose] = parseYamlDocuments(read('docker-compose.yml'), 'docker-compose.yml')
  const services = obj(obj(compose).services)
  const svc = Object.entries(services).map(([name, s]) => {
    const o = obj(s)
    const command = arr(o.command).map(String).join(' ')
    const mounts = arr(o.volumes ?? []).map(String)
    const net = obj(obj(o.networks).redis)
    return { name, o, command, mounts, ip: net.ipv4_address as string | undefined }
  })
  const running = (conf: string) =>
    svc.filter((s) => new RegExp(`/etc/redis/${conf.replace('.', '\\.')}\\b`).test(s.command))

  it('every mounted file exists in docs/deploy and every conf a command names is mounted', () => {
    for (const s of svc) {
      for (const m of s.mounts.filter((m) => m.startsWith('./'))) {
        const [src, dst] = m.split(':')
        expect(existsSync(join(deploy, src!)), `${s.name}: ${src}`).toBe(true)
        expect(basename(dst!), `${s.name}: ${m}`).toBe(basename(src!))
      }
      const mounted = s.mounts.map((m) => m.split(':')[1])
      const named = [...s.command.matchAll(/\/etc\/redis\/[\w.-]+/g)].map((m) => m[0])
      for (const path of named) expect(mounted, `${s.name} runs ${path}`).toContain(path)
      // What the mounted confs include or read must be mounted too.
      for (const path of named) {
        const conf = read(basename(path))
        for (const d of directives(conf).filter((d) => d[0] === 'include' || d[0] === 'aclfile'))
          expect(mounted, `${s.name}: ${basename(path)} needs ${d[1]}`).toContain(d[1])
      }
      if (s.o.image !== undefined) expect(s.o.image, s.name).toBe('redis:7.4')
    }
  })

  it('the addresses and ports of the templates are the ones of the network', () => {
    const [master] = running('standalone.conf')
    expect(master?.ip).toBe(monitorHost)
    expect(master?.mounts).toContain('./standalone.conf:/etc/redis/standalone.conf:ro')
    expect(arr(master!.o.ports).map((p) => Number(String(p).split(':').at(-1)))).toEqual([masterPort])
    expect(arr(obj(master!.o.healthcheck).test).join(' ')).toContain(`-p ${masterPort} --user ops`)
    expect(String(obj(master!.o.environment).REDISCLI_AUTH)).toMatch(/^\$\{OPS_PASSWORD:\?/)
    expect(running('replica.conf')).toHaveLength(1)
    const sentinels = running('sentinel.conf')
    expect(sentinels.length).toBeGreaterThanOrEqual(3)
    expect(Number(quorum)).toBe(Math.floor(sentinels.length / 2) + 1)
    for (const s of sentinels) expect(s.command).toContain('--sentinel')
    const ipam = obj(obj(obj(obj(compose).networks).redis).ipam)
    expect(obj(arr(ipam.config)[0]).subnet).toBe('10.0.0.0/24')
    const ips = svc.map((s) => s.ip).filter(Boolean)
    expect(new Set(ips).size, 'no address twice').toBe(ips.length)
    for (const ip of ips) expect(ip).toMatch(/^10\.0\.0\.\d+$/)
  })

  it('the cluster profile creates its cluster from exactly its nodes', () => {
    const nodes = running('cluster-node.conf')
    expect(nodes).toHaveLength(6)
    for (const n of nodes) expect(arr(n.o.profiles)).toEqual(['cluster'])
    const create = services['cluster-create']
    const command = arr(obj(create).command).map(String).join(' ')
    const listed = [...command.matchAll(/(\d+\.\d+\.\d+\.\d+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`)
    expect(listed.sort()).toEqual(nodes.map((n) => `${n.ip}:${clusterPort}`).sort())
    expect(command).toContain('--cluster-replicas 1')
    expect(command).toContain('--user ops --cluster create')
    expect(String(obj(obj(create).environment).REDISCLI_AUTH)).toMatch(/^\$\{OPS_PASSWORD:\?/)
    expect(arr(obj(create).depends_on).sort()).toEqual(nodes.map((n) => n.name).sort())
  })
})

describe('Kubernetes manifests (docs/deploy/k8s)', () => {
  const load = (file: string) => parseYamlDocuments(read(`k8s/${file}`), `k8s/${file}`).map(obj)
  const configMap = load('configmap.yaml')
  const manifests = [...load('redis-sentinel.yaml'), ...load('redis-cluster.yaml')]
  const sets = manifests.filter((m) => m.kind === 'StatefulSet')
  const byName = (name: string) => {
    const m = sets.find((s) => obj(s.metadata).name === name)
    if (!m) throw new Error(`no StatefulSet ${name}`)
    const spec = obj(obj(obj(m.spec).template).spec)
    const container = obj(arr(spec.containers)[0])
    return { spec: obj(m.spec), pod: spec, container, command: arr(container.command).map(String).join(' ') }
  }

  it('embeds every .conf template verbatim', () => {
    expect(configMap).toHaveLength(1)
    const data = obj(configMap[0]!.data)
    expect(Object.keys(data).sort()).toEqual([...CONFS].sort())
    for (const conf of CONFS) expect(data[conf], `${conf} differs from docs/deploy/${conf}`).toBe(read(conf))
  })

  it('mounts every file a pod runs, and only keys that exist', () => {
    const data = obj(configMap[0]!.data)
    for (const set of sets) {
      const name = String(obj(set.metadata).name)
      const { pod, container, command } = byName(name)
      const config = obj(
        arr(pod.volumes)
          .map(obj)
          .find((v) => v.name === 'config'),
      )
      const sources = config.projected ? arr(obj(config.projected).sources).map(obj) : [config]
      const files: string[] = []
      for (const src of sources) {
        const ref = obj(src.configMap ?? src.secret)
        for (const item of arr(ref.items).map(obj)) {
          if (src.configMap) {
            expect(ref.name).toBe('redis-conf')
            expect(Object.keys(data), `${name}: key ${item.key}`).toContain(item.key)
          } else expect([ref.name, item.key]).toEqual(['redis-acl', 'users.acl'])
          expect(item.path).toBe(item.key)
          files.push(`/etc/redis/${item.path}`)
        }
      }
      const mount = arr(container.volumeMounts)
        .map(obj)
        .find((m) => m.name === 'config')
      expect(mount?.mountPath).toBe('/etc/redis')
      const named = [...command.matchAll(/\/etc\/redis\/[\w.-]+/g)].map((m) => m[0])
      expect(named.length, `${name} runs a template`).toBeGreaterThan(0)
      for (const path of named) {
        expect(files, `${name} runs ${path}`).toContain(path)
        for (const d of directives(read(basename(path))).filter(
          (d) => d[0] === 'include' || d[0] === 'aclfile',
        ))
          expect(files, `${name}: ${basename(path)} needs ${d[1]}`).toContain(d[1])
      }
    }
  })

  it('ports, names and counts match the templates', () => {
    const ports = (c: Obj) =>
      Object.fromEntries(
        arr(c.ports)
          .map(obj)
          .map((p) => [p.name, p.containerPort]),
      )
    const redis = byName('redis')
    expect(ports(redis.container)).toEqual({ redis: masterPort })
    expect(redis.command).toContain(`get-master-addr-by-name ${monitorName}`)
    expect(redis.command).toContain(`-p ${sentinelPort}`)
    expect(redis.command).toContain(`--replicaof redis-0.redis ${masterPort}`)
    const sent = byName('redis-sentinel')
    expect(ports(sent.container)).toEqual({ sentinel: sentinelPort })
    expect(Number(sent.spec.replicas)).toBeGreaterThanOrEqual(3)
    expect(Number(quorum)).toBe(Math.floor(Number(sent.spec.replicas) / 2) + 1)
    // The sed expression that turns the template's master address into the master pod's name must match.
    const sed = /sed 's\/(.+?)\/(.+?)\/'/.exec(sent.command)
    expect(sed, 'a sed rewrite of the monitor line').not.toBeNull()
    const rewritten = sentinel.replace(new RegExp(sed![1]!, 'm'), sed![2]!)
    expect(rewritten).toMatch(
      new RegExp(`^sentinel monitor ${monitorName} redis-0\\.redis ${masterPort} ${quorum}$`, 'm'),
    )
    const cluster = byName('redis-cluster')
    expect(ports(cluster.container)).toEqual({ redis: clusterPort, bus: clusterPort + 10_000 })
    expect(Number(cluster.spec.replicas)).toBe(6)
    const job = obj(obj(obj(manifests.find((m) => m.kind === 'Job')!.spec).template).spec)
    const create = arr(obj(arr(job.containers)[0]).command)
      .map(String)
      .join(' ')
    expect(create).toContain('for i in 0 1 2 3 4 5;')
    expect(create).toContain(`-p ${clusterPort}`)
    // Every Service targets a named port of the pods it selects, with the same number.
    for (const service of manifests.filter((m) => m.kind === 'Service')) {
      const app = obj(obj(service.spec).selector)['app.kubernetes.io/name']
      const target = byName(String(app))
      for (const p of arr(obj(service.spec).ports).map(obj))
        expect(ports(target.container)[String(p.targetPort)], `${String(app)}:${String(p.name)}`).toBe(p.port)
    }
  })
})

describe('the docs that point at these files', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const docs = [
    'docs/architecture.md',
    'docs/deployment.md',
    'docs/runbooks.md',
    'docs/migrating/bentocache-cache-manager.md',
    'docs/migrating/rate-limiter-flexible-express-rate-limit.md',
    'docs/migrating/redlock-redis-semaphore.md',
    'docs/migrating/node-redis-ioredis.md',
    'docs/migrating/connect-redis.md',
  ]

  it('the "where does X live" map names files that exist', () => {
    const text = readFileSync(join(root, 'docs/architecture.md'), 'utf8')
    const paths = [...text.matchAll(/`((?:packages|tools)\/[^`\s]+)`/g)].map((m) => m[1]!)
    expect(paths.length).toBeGreaterThan(20)
    for (const path of paths) expect(existsSync(join(root, path)), path).toBe(true)
  })

  it('relative links resolve', () => {
    for (const doc of docs) {
      const text = readFileSync(join(root, doc), 'utf8')
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!
        if (/^[a-z]+:/.test(target)) continue
        expect(existsSync(join(root, doc, '..', target)), `${doc} -> ${target}`).toBe(true)
      }
    }
  })
})

// ---------------------------------------------------------------------------------------------------------
// Every template boots a real server of the harness's binary: the files as they are, with only what is
// specific to one machine rewritten (/etc/redis/ → a temp dir, the master's 10.0.0.1 → 127.0.0.1 and the
// ports → free ones). The checks need the settings to have taken effect: ACL users, replication
// credentials, sentinel credentials, cluster mode.
// ---------------------------------------------------------------------------------------------------------
describe(`each .conf boots ${serverBin()} ${serverVersion()}`, { timeout: 60_000 }, () => {
  const dir = makeTempDir('deploy')
  const procs: ChildProcess[] = []
  afterAll(async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve()
            p.once('exit', () => resolve())
            p.kill('SIGKILL')
          }),
      ),
    )
    removeTempDir(dir)
  })
  writeFileSync(join(dir, 'users.acl'), bootAcl)
  const app = [env.REDIS_USERNAME!, env.REDIS_PASSWORD!]
  const ops = ['ops', passwords.ops!]
  let master = 0
  let replicaPort = 0
  const sentinels: number[] = []
  const byPort = new Map<number, ChildProcess>()

  async function boot(conf: string, label: string, extra: string[] = []): Promise<number> {
    const port = await freePort()
    const file = join(dir, `${label}.conf`)
    let text = read(conf).replaceAll('/etc/redis/', `${dir}/`)
    if (master) text = text.replaceAll(`${monitorHost} ${masterPort}`, `127.0.0.1 ${master}`)
    writeFileSync(file, text)
    const nodeDir = makeTempDir(`deploy-${label}`)
    const args = [file, ...extra, '--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir]
    const proc = spawn(serverBin(), args, { cwd: nodeDir, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    proc.stdout?.on('data', (c) => (output += c))
    proc.stderr?.on('data', (c) => (output += c))
    if (proc.pid) trackPid(proc.pid)
    proc.once('exit', () => {
      if (proc.pid) untrackPid(proc.pid)
      removeTempDir(nodeDir)
    })
    procs.push(proc)
    byPort.set(port, proc)
    const auth = extra.includes('--sentinel') ? {} : { auth: ops }
    await waitFor(
      `${conf} to answer PING (${output.slice(-400)})`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`${conf} exited: ${output.slice(-800)}`)
        return (await respCommand(port, ['PING'], { timeoutMs: 500, ...auth })) === 'PONG'
      },
      { timeoutMs: 10_000 },
    )
    return port
  }
  const info = async (port: number, section: string) =>
    parseInfo(String(await respCommand(port, ['INFO', section], { auth: ops })))

  it('standalone.conf: reads its ACL file (no default user); its memory policy is in force', async () => {
    master = await boot('standalone.conf', 'standalone')
    expect(await respCommand(master, ['SET', 'cache:deploy:x', '1'], { auth: app })).toBe('OK')
    await expect(respCommand(master, ['PING'])).rejects.toThrow(/NOAUTH/)
    const policy = (await respCommand(master, ['CONFIG', 'GET', 'maxmemory-policy'], {
      auth: ops,
    })) as RespReply[]
    expect(policy[1]).toBe(directive(standalone, 'maxmemory-policy')[0])
  })

  it('replica.conf: replicates from the master with the replication user', async () => {
    const port = await boot('replica.conf', 'replica')
    replicaPort = port
    await waitFor(
      'the replica link',
      async () => (await info(port, 'replication')).master_link_status === 'up',
    )
    expect(await respCommand(port, ['GET', 'cache:deploy:x'], { auth: app })).toBe('1')
  })

  it('sentinel.conf: monitors the master and discovers its replica with the sentinel user', async () => {
    const port = await boot('sentinel.conf', 'sentinel', ['--sentinel'])
    sentinels.push(port)
    const addr = await respCommand(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', monitorName!])
    expect(addr).toEqual(['127.0.0.1', String(master)])
    await waitFor('the sentinel to see the replica', async () => {
      const replicas = (await respCommand(port, ['SENTINEL', 'REPLICAS', monitorName!])) as RespReply[]
      return replicas.length === 1
    })
    const flags = (await respCommand(port, ['SENTINEL', 'MASTER', monitorName!])) as string[]
    expect(flags[flags.indexOf('flags') + 1]).toBe('master')
  })

  it('sentinel.conf ×3 + replica.conf: the sentinels fail over to the replica when the master dies', async () => {
    expect(replicaPort, 'the replica test ran').toBeGreaterThan(0)
    for (const label of ['sentinel-2', 'sentinel-3'])
      sentinels.push(await boot('sentinel.conf', label, ['--sentinel']))
    await waitFor('the sentinels to find each other', async () => {
      const m = (await respCommand(sentinels[0]!, ['SENTINEL', 'MASTER', monitorName!])) as string[]
      return Number(m[m.indexOf('num-other-sentinels') + 1]) === sentinels.length - 1
    })
    expect(await respCommand(sentinels[0]!, ['SENTINEL', 'CKQUORUM', monitorName!])).toMatch(/^OK/)
    byPort.get(master)!.kill('SIGKILL')
    // down-after-milliseconds of the template, then the election and the promotion.
    const downAfter = Number(directive(sentinel, 'sentinel', 'down-after-milliseconds', monitorName!)[0])
    await waitFor(
      'the failover to the replica',
      async () => {
        const addr = (await respCommand(sentinels[0]!, [
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          monitorName!,
        ])) as string[]
        return Number(addr[1]) === replicaPort
      },
      { timeoutMs: downAfter + 25_000, intervalMs: 200 },
    )
    await waitFor(
      'the promoted replica to take writes',
      async () => (await info(replicaPort, 'replication')).role === 'master',
    )
    expect(await respCommand(replicaPort, ['SET', 'cache:deploy:y', '2'], { auth: app })).toBe('OK')
  })

  it('cluster-node.conf: starts in cluster mode', async () => {
    const port = await boot('cluster-node.conf', 'cluster')
    expect((await info(port, 'cluster')).cluster_enabled).toBe('1')
    expect(String(await respCommand(port, ['CLUSTER', 'MYID'], { auth: ops }))).toMatch(/^[0-9a-f]{40}$/)
  })
})
