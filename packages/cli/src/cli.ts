import { parseArgs } from 'node:util'
import { type CacheError, type Connection, connect, isCacheError, isUnavailable } from '@cache/client'
import { type Command, type CommandContext, windowFlag } from './command.js'
import { COMMANDS } from './commands/index.js'
import { CONNECTION_FLAGS, type ConnectionFlags, connectionOptions } from './connection-options.js'
import { UsageError } from './errors.js'
import { EXIT } from './exit-codes.js'
import { type CliIo, Output } from './output.js'
import { resumeFlags } from './scan.js'
import { closest } from './suggest.js'

const GLOBAL_FLAGS = {
  ...CONNECTION_FLAGS,
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

const STRING_GLOBALS = new Set(
  Object.entries(GLOBAL_FLAGS)
    .filter(([, f]) => f.type === 'string')
    .map(([k]) => `--${k}`),
)

/** The index of the command name: the first argument that is neither a flag nor a global flag's value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1
    if (!a.startsWith('-')) return i
    if (STRING_GLOBALS.has(a)) i++
  }
  return -1
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    'usage: cache <command> [arguments] [flags]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'connection (the same environment variables as connect(): REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS,',
    'REDIS_SENTINEL_NAME, REDIS_USERNAME, REDIS_PASSWORD, REDIS_DB, REDIS_NAMESPACE, REDIS_TLS*; flags win):',
    '  --url redis://host:port   --host H --port P --db N --username U --tls',
    '  --cluster h:p,h:p         --sentinels h:p,h:p --sentinel-name NAME',
    '  --namespace NS (root namespace, as connect({ namespace }))   --timeout 2s (per command)',
    '  passwords only from REDIS_PASSWORD or the URL, never printed',
    '',
    'output: --json on every command (one JSON document on stdout); exit codes 0 ok, 1 problem found,',
    '2 usage or connection error. `cache <command> --help` for its flags.',
  ].join('\n')
}

function commandHelp(c: Command): string {
  return `usage: cache ${c.usage}\n\n${c.summary}\n\nrun \`cache --help\` for the connection flags, --json and exit codes.`
}

/** Passwords never reach the output, whatever an error or a server reply says. */
function secretsOf(flags: ConnectionFlags, env: NodeJS.ProcessEnv): string[] {
  const out = [env.REDIS_PASSWORD]
  for (const url of [flags.url, env.REDIS_URL]) {
    if (!url) continue
    try {
      out.push(decodeURIComponent(new URL(url).password))
    } catch {
      // An unparseable URL is refused by connect() without being echoed.
    }
  }
  return out.filter((s): s is string => !!s && s.length >= 4)
}

function scrubbed(io: CliIo, secrets: string[]): CliIo {
  if (secrets.length === 0) return io
  const wrap = <S extends NodeJS.WritableStream>(s: S): S =>
    new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === 'write') {
          return (chunk: unknown, ...rest: unknown[]) => {
            let text = String(chunk)
            for (const secret of secrets) text = text.split(secret).join('***')
            return (target.write as (...a: unknown[]) => boolean).call(target, text, ...rest)
          }
        }
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
  return { ...io, stdout: wrap(io.stdout), stderr: wrap(io.stderr) }
}

function report(out: Output, err: unknown, exit: number): number {
  // A node:util parseArgs error (unknown flag, missing value) is a usage error like our own UsageError.
  const code = isCacheError(err) ? (err as CacheError).code : exit === EXIT.USAGE ? 'E_USAGE' : 'E_INTERNAL'
  const message = err instanceof Error ? err.message : String(err)
  if (out.json) out.result({ ok: false, error: { code, message } }, () => '')
  else out.note(`cache: ${message}${code !== 'E_INTERNAL' ? ` (${code})` : ''}`)
  return exit
}

function exitFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return EXIT.USAGE
  if (isCacheError(err, 'E_INVALID_OPTION') || isCacheError(err, 'E_INVALID_ARGUMENT')) return EXIT.USAGE
  if (
    isUnavailable(err) ||
    isCacheError(err, 'E_AUTH') ||
    isCacheError(err, 'E_TLS') ||
    isCacheError(err, 'E_TIMEOUT')
  )
    return EXIT.USAGE
  return EXIT.PROBLEM
}

/** node:util's "Unknown option '--rtae'…" as a UsageError naming the flag, with the flag it likely meant. */
function unknownFlag(err: unknown, command: Command): UsageError | undefined {
  if ((err as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined
  const flag = /'(-{1,2}[^']+)'/.exec((err as Error).message)?.[1]
  if (!flag) return undefined
  const near = closest(flag.replace(/^-+/, ''), Object.keys({ ...GLOBAL_FLAGS, ...command.flags }))
  return new UsageError(
    flag,
    `is not a flag of \`cache ${command.name}\`${near ? `; did you mean --${near}?` : ''} (\`cache ${command.name} --help\` lists them)`,
  )
}

/** The flags several commands share, checked before connecting: a bad value is a usage error, not a wait. */
function preflight(command: Command, values: CommandContext['values']): void {
  if ('rate' in command.flags || 'cursor' in command.flags) resumeFlags(values)
  if ('window' in command.flags) windowFlag(values, 'window', '1m')
}

function offline(): Connection {
  return new Proxy({} as Connection, {
    get() {
      throw new Error('an offline command used the connection')
    },
  })
}

/**
 * Runs `cache <argv>` and resolves to the exit code (0 ok, 1 problem found, 2 usage or connection error).
 * @example
 * process.exitCode = await run(process.argv.slice(2))
 */
export async function run(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env },
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  const json = argv.includes('--json')
  let out = new Output(io, json)
  const at = commandIndex(argv)
  const name = at >= 0 ? argv[at] : undefined
  if (name === undefined || name === 'help') {
    if (argv.includes('--help') || argv.includes('-h') || name === 'help') {
      io.stdout.write(`${overview()}\n`)
      return EXIT.OK
    }
    return report(out, new UsageError('command', `is missing\n\n${overview()}`), EXIT.USAGE)
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    const near = closest(
      name,
      COMMANDS.map((c) => c.name),
    )
    const hint = near ? `; did you mean "${near}"?` : ''
    return report(
      out,
      new UsageError('command', `"${name}" is unknown${hint} (\`cache --help\` lists the commands)`),
      EXIT.USAGE,
    )
  }
  let conn: Connection | undefined
  try {
    const { values, positionals } = parseArgs({
      args: [...argv.slice(0, at), ...argv.slice(at + 1)],
      options: { ...GLOBAL_FLAGS, ...command.flags },
      allowPositionals: true,
      strict: true,
    })
    if (values.help) {
      io.stdout.write(`${commandHelp(command)}\n`)
      return EXIT.OK
    }
    const flags = values as ConnectionFlags
    io = scrubbed(io, secretsOf(flags, io.env))
    out = new Output(io, json)
    const options = connectionOptions(flags, io.env)
    preflight(command, values)
    if (command.offline) return await command.run({ conn: offline(), values, positionals, out, io, signal })
    conn = await connect(options)
    return await command.run({ conn, values, positionals, out, io, signal })
  } catch (err) {
    return report(out, unknownFlag(err, command) ?? err, exitFor(err))
  } finally {
    await conn?.close()
  }
}
