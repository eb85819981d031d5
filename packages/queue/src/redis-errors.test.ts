import { isCacheError } from '@cache/client'
import { describe, expect, it } from 'vitest'
import { toQueueError } from './redis-errors.js'

const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' })
const codeOf = (e: unknown) => (isCacheError(e) ? e.code : 'untyped')

describe('toQueueError', () => {
  it('a missing or unready server is E_UNAVAILABLE, naming the call', () => {
    for (const e of [
      new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'),
      new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
      new Error('Connection is closed.'),
      new Error('connect ECONNREFUSED 127.0.0.1:1'),
      new Error('Command timed out'),
      reply('CLUSTERDOWN The cluster is down'),
      reply("READONLY You can't write against a read only replica."),
      reply('LOADING Redis is loading the dataset in memory'),
    ]) {
      const mapped = toQueueError(e, 'add "welcome"')
      expect(codeOf(mapped)).toBe('E_UNAVAILABLE')
      expect((mapped as Error).message).toContain('add "welcome"')
      expect((mapped as Error).cause).toBe(e)
    }
  })

  it('another Redis reply is E_COMMAND; anything else (BullMQ checks, typed errors) is kept as is', () => {
    expect(codeOf(toQueueError(reply('ERR wrong number of arguments'), 'add'))).toBe('E_COMMAND')
    const own = new Error('Missing key for job 1. moveToFinished')
    expect(toQueueError(own, 'add')).toBe(own)
    const typed = toQueueError(new Error('Connection is closed.'), 'add')
    expect(toQueueError(typed, 'addBulk')).toBe(typed)
    expect(toQueueError('text', 'add')).toBe('text')
  })
})
