/**
 * The tables a SQL statement reads and writes, for tagging cached results and invalidating them on
 * writes. A light scanner, not a parser: comments and literals are skipped, identifiers are read after
 * FROM / JOIN / INTO / UPDATE / TRUNCATE / MERGE INTO, schema-qualified and quoted names are understood,
 * unquoted names are lower-cased (as Postgres folds them).
 */

/** Tables of one statement. */
export interface StatementTables {
  /** `true` when the statement may change data or schema (anything but a plain SELECT / WITH … SELECT). */
  write: boolean
  /** Tables read (FROM, JOIN). */
  reads: string[]
  /** Tables written (INSERT INTO, UPDATE, DELETE FROM, TRUNCATE, MERGE INTO, ALTER/DROP TABLE). */
  writes: string[]
}

type Token = { kind: 'word' | 'ident' | 'punct'; text: string }

/** Words, quoted identifiers and punctuation of a statement, without comments and literals. */
function tokens(sql: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? sql.length : end + 2
    } else if (c === "'") {
      i++
      while (i < sql.length && !(sql[i] === "'" && sql[i + 1] !== "'")) i += sql[i] === "'" ? 2 : 1
      i++
    } else if (c === '$' && /[A-Za-z_$]/.test(sql[i + 1] ?? '')) {
      // dollar-quoted string: $tag$ … $tag$ (a bare $1 parameter is a word character run below)
      const m = /^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i))
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length)
        i = end < 0 ? sql.length : end + m[0].length
      } else i++
    } else if (c === '"' || c === '`') {
      let j = i + 1
      let text = ''
      while (j < sql.length) {
        if (sql[j] === c && sql[j + 1] === c) {
          text += c
          j += 2
        } else if (sql[j] === c) break
        else text += sql[j++]
      }
      out.push({ kind: 'ident', text })
      i = j + 1
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i
      while (j < sql.length && /[\w$]/.test(sql[j]!)) j++
      out.push({ kind: 'word', text: sql.slice(i, j) })
      i = j
    } else {
      if (!/\s/.test(c)) out.push({ kind: 'punct', text: c })
      i++
    }
  }
  return out
}

const KEYWORDS = new Set(['only', 'lateral', 'if', 'exists', 'table', 'not'])

/** Reads a (schema-qualified) table name at `i`; returns it and the next index. */
function nameAt(ts: Token[], i: number): [string | undefined, number] {
  while (ts[i]?.kind === 'word' && KEYWORDS.has(ts[i]!.text.toLowerCase())) i++
  const parts: string[] = []
  for (;;) {
    const t = ts[i]
    if (!t || t.kind === 'punct') break
    parts.push(t.kind === 'ident' ? t.text : t.text.toLowerCase())
    i++
    if (ts[i]?.text === '.') i++
    else break
  }
  return [parts.length ? parts.join('.') : undefined, i]
}

/** The tables a statement reads and writes. */
export function statementTables(sql: string): StatementTables {
  const ts = tokens(sql)
  const reads = new Set<string>()
  const writes = new Set<string>()
  const first = ts.find((t) => t.kind === 'word')?.text.toLowerCase()
  let write = !(
    first === 'select' ||
    first === 'with' ||
    first === 'values' ||
    first === 'show' ||
    first === 'explain'
  )
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!
    if (t.kind !== 'word') continue
    const w = t.text.toLowerCase()
    const next = ts[i + 1]?.text.toLowerCase()
    if (w === 'from' || w === 'join') {
      // a list of tables after FROM: a, b c, d
      let j = i + 1
      if (ts[j]?.text === '(') continue
      for (;;) {
        const [name, k] = nameAt(ts, j)
        if (!name) break
        const prev = ts[i - 1]?.text.toLowerCase()
        if (prev === 'delete') writes.add(name)
        else reads.add(name)
        j = k
        while (ts[j] && ts[j]!.text !== ',' && ts[j]!.kind !== 'punct' && !isClause(ts[j]!.text)) j++
        if (ts[j]?.text !== ',' || w === 'join') break
        j++
      }
    } else if (w === 'into' || w === 'update' || w === 'truncate') {
      if (w === 'update' && ts[i - 1]?.text.toLowerCase() === 'for') {
        write = true // SELECT … FOR UPDATE takes locks: never answered from a cache
        continue
      }
      if (w === 'into' && first === 'select') {
        write = true // SELECT … INTO creates a table
      }
      const [name] = nameAt(ts, i + 1)
      if (name) {
        writes.add(name)
        write = true
      }
    } else if ((w === 'alter' || w === 'drop') && next === 'table') {
      const [name] = nameAt(ts, i + 2)
      if (name) writes.add(name)
      write = true
    } else if (w === 'insert' || w === 'delete' || w === 'merge') {
      write = true
    }
  }
  return { write, reads: [...reads], writes: [...writes] }
}

const CLAUSES = new Set([
  'where',
  'join',
  'inner',
  'left',
  'right',
  'full',
  'cross',
  'on',
  'using',
  'group',
  'order',
  'limit',
  'offset',
  'having',
  'window',
  'union',
  'intersect',
  'except',
  'returning',
  'set',
  'values',
  'for',
  'natural',
  'select',
])

function isClause(word: string): boolean {
  return CLAUSES.has(word.toLowerCase())
}

/** The cache tag of a table (`table:<name>`, the name without its schema when it is `public`). */
export function tableTag(table: string): string {
  return `table:${table.startsWith('public.') ? table.slice(7) : table}`
}
