import { encodeKeyPart, escapeGlob, InvalidOptionError } from '@cache/client'
import { PKG } from './defaults.js'

type Token = { t: 'lit'; v: string } | { t: 'star' } | { t: 'one' } | { t: 'class'; v: string; neg: boolean }

/** Splits a glob (`*`, `?`, `[…]`, `\` escapes) into tokens. @throws E_INVALID_OPTION (field `pattern`). */
export function parseGlob(glob: string): Token[] {
  if (typeof glob !== 'string' || glob.length === 0) {
    throw new InvalidOptionError(PKG, 'pattern', 'must be a non-empty glob string')
  }
  const out: Token[] = []
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string
    if (ch === '\\') {
      const next = glob[++i]
      if (next === undefined) throw new InvalidOptionError(PKG, 'pattern', 'ends with a lone "\\"')
      out.push({ t: 'lit', v: next })
    } else if (ch === '*') out.push({ t: 'star' })
    else if (ch === '?') out.push({ t: 'one' })
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end < 0) throw new InvalidOptionError(PKG, 'pattern', `has an unclosed "[" at ${i}`)
      let body = glob.slice(i + 1, end)
      const neg = body[0] === '^' || body[0] === '!'
      if (neg) body = body.slice(1)
      out.push({ t: 'class', v: body, neg })
      i = end
    } else out.push({ t: 'lit', v: ch })
  }
  return out
}

/** A RegExp matching whole keys for a glob (used by MemoryCache). */
export function globToRegExp(glob: string): RegExp {
  let src = '^'
  for (const tok of parseGlob(glob)) {
    if (tok.t === 'lit') src += tok.v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    else if (tok.t === 'star') src += '[\\s\\S]*'
    else if (tok.t === 'one') src += '[\\s\\S]'
    else src += `[${tok.neg ? '^' : ''}${tok.v.replace(/[\\\]^]/g, '\\$&')}]`
  }
  return new RegExp(`${src}$`, 'u')
}

/**
 * The SCAN MATCH form of a glob over escaped key parts (RedisCache): literal characters are escaped the way
 * keys are (so glob characters inside user keys never act as wildcards), wildcards pass through.
 */
export function globToRedis(glob: string): string {
  let out = ''
  for (const tok of parseGlob(glob)) {
    if (tok.t === 'lit') out += escapeGlob(encodeKeyPart(tok.v))
    else if (tok.t === 'star') out += '*'
    else if (tok.t === 'one') out += '?'
    else {
      if (!/^[A-Za-z0-9._@/=+,;!$&()'-]+$/.test(tok.v)) {
        throw new InvalidOptionError(
          PKG,
          'pattern',
          `character classes may only hold letters, digits and ._-@/=+,;!$&()', got [${tok.v}]`,
        )
      }
      out += `[${tok.neg ? '^' : ''}${tok.v}]`
    }
  }
  return out
}
