import { afterEach, describe, expect, it } from 'vitest'
import { closeOnSignal } from './shutdown.js'

describe('closeOnSignal', () => {
  afterEach(() => {
    process.exitCode = undefined
  })

  it('closes every closable in order on the first signal, once, then sets the exit code', async () => {
    const closed: string[] = []
    const remove = closeOnSignal(
      [{ close: async () => void closed.push('worker') }, { close: async () => void closed.push('queue') }],
      { signals: ['SIGUSR2'] },
    )
    process.emit('SIGUSR2', 'SIGUSR2')
    process.emit('SIGUSR2', 'SIGUSR2')
    await new Promise((r) => setTimeout(r, 10))
    expect(closed).toEqual(['worker', 'queue'])
    expect(process.exitCode).toBe(0)
    expect(process.listenerCount('SIGUSR2')).toBe(0)
    remove()
  })

  it('a failing close sets exit code 1 and the others still close; the remover detaches the handlers', async () => {
    const closed: string[] = []
    closeOnSignal(
      [
        {
          close: async () => {
            throw new Error('boom')
          },
        },
        { close: async () => void closed.push('conn') },
      ],
      { signals: ['SIGUSR2'] },
    )
    process.emit('SIGUSR2', 'SIGUSR2')
    await new Promise((r) => setTimeout(r, 10))
    expect(closed).toEqual(['conn'])
    expect(process.exitCode).toBe(1)
    const before = process.listenerCount('SIGUSR2')
    const remove = closeOnSignal([], { signals: ['SIGUSR2'] })
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1)
    remove()
    expect(process.listenerCount('SIGUSR2')).toBe(before)
  })
})
