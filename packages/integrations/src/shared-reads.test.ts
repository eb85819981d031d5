import { describe, expect, it } from 'vitest'
import { SharedReads } from './shared-reads.js'

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A read that settles when told to (a round trip in flight). */
function pending() {
  const reads: Array<{ key: string; resolve: (v: string) => void; reject: (e: Error) => void }> = []
  const read = (key: string) =>
    new Promise<string>((resolve, reject) => {
      reads.push({ key, resolve, reject })
    })
  return { reads, read }
}

describe('SharedReads', () => {
  it('shares one read among lookups of a key in one turn, not of other keys', async () => {
    const shared = new SharedReads<string>()
    const { reads, read } = pending()
    const a = shared.get('k', read)
    const b = shared.get('k', read)
    const c = shared.get('other', read)
    expect(reads.map((r) => r.key)).toEqual(['k', 'other'])
    reads[0]!.resolve('v')
    reads[1]!.resolve('w')
    expect(await Promise.all([a, b, c])).toEqual(['v', 'v', 'w'])
  })

  it('starts a new read in the next turn, even while the first is in flight', async () => {
    const shared = new SharedReads<string>()
    const { reads, read } = pending()
    const first = shared.get('k', read)
    await turn()
    const second = shared.get('k', read)
    expect(reads).toHaveLength(2)
    reads[0]!.resolve('old')
    reads[1]!.resolve('new')
    expect([await first, await second]).toEqual(['old', 'new'])
  })

  it('does not share a read that settled (an in-memory answer), within the same turn', async () => {
    const shared = new SharedReads<number>()
    let n = 0
    const read = async () => ++n
    expect(await shared.get('k', read)).toBe(1)
    expect(await shared.get('k', read)).toBe(2)
  })

  it('a failed read fails its sharers, and the next lookup reads again', async () => {
    const shared = new SharedReads<string>()
    const { reads, read } = pending()
    const a = shared.get('k', read)
    const b = shared.get('k', read)
    reads[0]!.reject(new Error('down'))
    await expect(a).rejects.toThrow('down')
    await expect(b).rejects.toThrow('down')
    const c = shared.get('k', read)
    expect(reads).toHaveLength(2)
    reads[1]!.resolve('back')
    expect(await c).toBe('back')
  })
})
