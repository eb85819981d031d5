import { describe, expect, it } from 'vitest'
import { closest } from './suggest.js'

describe('closest', () => {
  it('finds the flag or command a typo meant', () => {
    expect(closest('rtae', ['rate', 'cursor', 'batch'])).toBe('rate')
    expect(closest('kyes', ['keys', 'locks', 'limits'])).toBe('keys')
    expect(closest('curser', ['rate', 'cursor'])).toBe('cursor')
  })

  it('suggests nothing for a word unlike any', () => {
    expect(closest('frobnicate', ['rate', 'cursor'])).toBeUndefined()
    expect(closest('x', ['rate'])).toBeUndefined()
  })
})
