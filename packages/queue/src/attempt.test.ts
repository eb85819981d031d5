import type { Job } from 'bullmq'
import { describe, expect, it } from 'vitest'
import { Attempt, RunningAttempts } from './attempt.js'

function job(): { job: Job; progress: unknown[]; lines: string[] } {
  const progress: unknown[] = []
  const lines: string[] = []
  const j = {
    updateProgress: async (v: unknown) => void progress.push(v),
    log: async (line: string) => lines.push(line),
  }
  return { job: j as unknown as Job, progress, lines }
}

describe('Attempt', () => {
  it('aborts a signal read before the abort, with the first reason', () => {
    const a = new Attempt(job().job)
    const { signal } = a
    const seen: unknown[] = []
    signal.addEventListener('abort', () => seen.push(signal.reason))
    expect(signal.aborted).toBe(false)
    a.abort('first')
    a.abort('second')
    expect(seen).toEqual(['first'])
    expect(a.signal).toBe(signal)
  })

  it('a signal first read after the abort is already aborted with its reason', () => {
    const a = new Attempt(job().job)
    const reason = new Error('timed out')
    a.abort(reason)
    expect(a.signal.aborted).toBe(true)
    expect(a.signal.reason).toBe(reason)
  })

  it('progress and log work destructured', async () => {
    const j = job()
    const { progress, log } = new Attempt(j.job)
    await progress(50)
    await progress({ step: 2 })
    expect(await log('hello')).toBeUndefined()
    expect(j.progress).toEqual([50, { step: 2 }])
    expect(j.lines).toEqual(['hello'])
  })
})

describe('RunningAttempts', () => {
  it('aborts exactly the attempts still running, whichever order they left in', () => {
    const list = new RunningAttempts()
    const all = Array.from({ length: 5 }, () => new Attempt(job().job))
    for (const a of all) list.add(a)
    // the last added (the head), one in the middle and the first added (the tail)
    for (const i of [4, 2, 0]) list.delete(all[i] as Attempt)
    list.delete(all[2] as Attempt) // a second delete changes nothing
    list.abortAll('closing')
    expect(all.map((a) => a.signal.aborted)).toEqual([false, true, false, true, false])
    expect(all[1]?.signal.reason).toBe('closing')
    for (const a of all) list.delete(a)
    const late = new Attempt(job().job)
    list.add(late)
    list.abortAll('again')
    expect(late.signal.aborted).toBe(true)
    expect(all[0]?.signal.aborted).toBe(false)
  })
})
