import { describe, expect, it } from 'vitest'
import {
  field,
  parseClaimReply,
  parseEntries,
  parsePendingEntries,
  parsePendingSummary,
  parseReadReply,
} from './replies.js'

describe('stream reply parsers', () => {
  const entries = [
    ['1-0', ['data', '1']],
    ['2-0', null], // deleted entry in a PEL read
    ['3-0', [Buffer.from('data'), Buffer.from('3')]],
  ]
  it('reads RESP2 arrays, RESP3 maps and objects alike', () => {
    const expected = [
      { id: '1-0', fields: ['data', '1'] },
      { id: '3-0', fields: ['data', '3'] },
    ]
    expect(parseReadReply([['key', entries]])).toEqual(expected)
    expect(parseReadReply(new Map([['key', entries]]))).toEqual(expected)
    expect(parseReadReply({ key: entries })).toEqual(expected)
    expect(parseReadReply(null)).toEqual([])
    expect(parseReadReply(5)).toEqual([])
    expect(parseReadReply([5])).toEqual([])
    expect(parseEntries('x')).toEqual([])
    expect(
      parseEntries([
        ['1-0', new Map([['a', 'b']])],
        ['2-0', { c: 'd' }],
        ['3-0', 7],
      ]),
    ).toEqual([
      { id: '1-0', fields: ['a', 'b'] },
      { id: '2-0', fields: ['c', 'd'] },
      { id: '3-0', fields: [] },
    ])
  })
  it('finds fields', () => {
    expect(field(['a', '1', 'b', '2'], 'b')).toBe('2')
    expect(field(['a', '1', 'b'], 'b')).toBeUndefined()
  })
  it('parses XPENDING summaries and entries', () => {
    expect(parsePendingSummary([2, '1-0', '2-0', [['c1', '2']]])).toEqual({
      count: 2,
      minId: '1-0',
      maxId: '2-0',
      consumers: [{ name: 'c1', pending: 2 }],
    })
    expect(parsePendingSummary([0, null, null, null])).toEqual({
      count: 0,
      minId: undefined,
      maxId: undefined,
      consumers: [],
    })
    expect(parsePendingSummary(undefined).count).toBe(0)
    expect(parsePendingEntries([['1-0', 'c', 5, 2], 'junk'])).toEqual([
      { id: '1-0', consumer: 'c', idleMs: 5, deliveries: 2 },
    ])
    expect(parsePendingEntries(null)).toEqual([])
  })
  it('parses the claim script reply', () => {
    expect(parseClaimReply(['0-0', [['1-0', 3, ['data', '1']], 'junk'], 1])).toEqual({
      cursor: '0-0',
      entries: [{ id: '1-0', deliveries: 3, fields: ['data', '1'] }],
      dead: 1,
    })
    expect(parseClaimReply(null)).toEqual({ cursor: '0-0', entries: [], dead: 0 })
  })
})
