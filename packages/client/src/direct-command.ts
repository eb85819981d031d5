import * as parserModule from '@redis/client/dist/lib/client/parser.js'
import * as commandsModule from '@redis/client/dist/lib/commands/index.js'

/** A node-redis command definition (the objects of `@redis/client/dist/lib/commands`). */
interface CommandDefinition {
  parseCommand(parser: unknown, ...args: unknown[]): void
  transformReply?: unknown
  unstableResp3?: boolean
}

/** The parts of a standalone node-redis client (or a `withTypeMapping` view of one) a direct send needs. */
interface StandaloneClient {
  _self: StandaloneClient
  _commandOptions: unknown
  _executeCommand: unknown
  sendCommand(args: unknown, options: unknown): Promise<unknown>
  clientSideCache?: unknown
  options?: { scripts?: object }
}

/** The module's `default` whether it was loaded as ESM (namespace of a CommonJS module) or by require(). */
function unwrap<T>(ns: object, name: string): T | undefined {
  const direct = (ns as Record<string, unknown>)[name]
  if (direct !== undefined && name !== 'default') return direct as T
  const def = (ns as { default?: Record<string, unknown> }).default
  if (name === 'default') return (def?.default ?? def) as T | undefined
  return def?.[name] as T | undefined
}

const COMMANDS = unwrap<Record<string, CommandDefinition | undefined>>(commandsModule, 'default') ?? {}
const Parser = unwrap<new () => { redisArgs: unknown }>(parserModule, 'BasicCommandParser')

/** Text of node-redis's generated command method (RedisClient #createCommand) and of its `_executeCommand`. */
const GENERATED_METHOD = '._executeCommand(command, parser, this._commandOptions, transformReply)'
const EXECUTE_COMMAND = 'csc.handleCache('

function sourceHas(fn: unknown, text: string): boolean {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).includes(text)
}

/**
 * A sender for `client[prop](…args)` that does what node-redis's generated command method does
 * (`parseCommand`, then `sendCommand` with the client's command options) without its two `async` wrappers
 * (the method and `_executeCommand`): those cost ~0.5 µs of client CPU per command, more than the whole
 * guarded path. Only for a plain standalone client's generated method of a command that has no reply
 * transform and is not served by a client-side cache; undefined otherwise (the caller then calls the method).
 */
export function directSender(
  client: object,
  prop: string,
): ((...args: unknown[]) => Promise<unknown>) | undefined {
  const def = Object.hasOwn(COMMANDS, prop) ? COMMANDS[prop] : undefined
  if (!Parser || !def || def.transformReply !== undefined || def.unstableResp3) return undefined
  const c = client as StandaloneClient
  const self = c._self
  if (!self || typeof self.sendCommand !== 'function' || self.clientSideCache) return undefined
  // A script of the client's own under a command's name replaces that command's method.
  const scripts = self.options?.scripts
  if (scripts && Object.hasOwn(scripts, prop)) return undefined
  // The method must be the one node-redis generated (an own property of the class it builds over
  // RedisClient), calling RedisClient's own `_executeCommand`: anything that wrapped either (instrumentation)
  // keeps the method's path. Checked by their source, once per command name.
  let owner: object | null = c
  while (owner && !Object.hasOwn(owner, prop)) owner = Object.getPrototypeOf(owner)
  const base = owner && (Object.getPrototypeOf(owner) as StandaloneClient | null)
  if (
    !owner ||
    !base ||
    !Object.hasOwn(base, '_executeCommand') ||
    self._executeCommand !== base._executeCommand ||
    !sourceHas(Reflect.get(owner, prop), GENERATED_METHOD) ||
    !sourceHas(base._executeCommand, EXECUTE_COMMAND)
  ) {
    return undefined
  }
  const P = Parser
  return (...args: unknown[]) => {
    const parser = new P()
    def.parseCommand(parser, ...args)
    return self.sendCommand(parser.redisArgs, c._commandOptions)
  }
}
