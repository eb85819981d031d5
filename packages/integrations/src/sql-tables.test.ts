import { describe, expect, it } from 'vitest'
import { statementTables, tableTag } from './sql-tables.js'

describe('statementTables', () => {
  it('reads FROM and JOIN tables of a SELECT, schema-qualified and quoted, and is not a write', () => {
    expect(
      statementTables(
        'SELECT u.id, o.total FROM public.users u JOIN "Orders" o ON o.user_id = u.id LEFT JOIN items i USING (id) WHERE u.org = $1',
      ),
    ).toEqual({ write: false, reads: ['public.users', 'Orders', 'items'], writes: [] })
    expect(statementTables('select * from a, b as bb, c where a.x = 1').reads).toEqual(['a', 'b', 'c'])
    expect(statementTables('WITH t AS (SELECT * FROM Events) SELECT * FROM t').reads).toEqual(['events', 't'])
  })
  it('skips comments, string literals and dollar quotes', () => {
    expect(
      statementTables("SELECT 'from fake' AS x, $$ join fake2 $$ FROM real -- from fake3\n/* join fake4 */")
        .reads,
    ).toEqual(['real'])
  })
  it('finds the written table of INSERT, UPDATE, DELETE, TRUNCATE, MERGE and DDL', () => {
    expect(statementTables('INSERT INTO users (name) VALUES ($1) RETURNING id')).toEqual({
      write: true,
      reads: [],
      writes: ['users'],
    })
    expect(statementTables('UPDATE ONLY users SET name = $1 FROM orgs WHERE orgs.id = users.org')).toEqual({
      write: true,
      reads: ['orgs'],
      writes: ['users'],
    })
    expect(statementTables('DELETE FROM users WHERE id = $1').writes).toEqual(['users'])
    expect(statementTables('TRUNCATE TABLE a').writes).toEqual(['a'])
    expect(
      statementTables(
        'MERGE INTO stock s USING deliveries d ON s.id = d.id WHEN MATCHED THEN UPDATE SET n = 1',
      ).writes,
    ).toContain('stock')
    expect(statementTables('DROP TABLE IF EXISTS a').writes).toEqual(['a'])
    expect(statementTables('CREATE TABLE x (id int)').write).toBe(true)
    expect(statementTables('SELECT * FROM a FOR UPDATE')).toEqual({ write: true, reads: ['a'], writes: [] })
  })
  it('tags tables without the public schema', () => {
    expect(tableTag('public.users')).toBe('table:users')
    expect(tableTag('audit.log')).toBe('table:audit.log')
  })
})
