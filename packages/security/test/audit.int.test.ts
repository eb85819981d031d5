import { randomBytes } from 'node:crypto'
import { type Connection, connect } from '@cache/client'
import { uniquePrefix } from '@cache/tools'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { AuditLog, Keyring } from '../src/index.js'

const { standalone, cluster } = inject('redis')
const conns: Connection[] = []
const keyring = new Keyring({ keys: [{ id: 'a1', key: randomBytes(32), status: 'primary' }] })

beforeAll(async () => {
  conns.push(
    await connect({ url: standalone.url, namespace: uniquePrefix('aud') }),
    await connect({ cluster: { nodes: cluster.nodes }, namespace: uniquePrefix('aud') }),
  )
})
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()))
})

async function filled(conn: Connection, n = 5): Promise<{ audit: AuditLog; ids: string[] }> {
  const audit = new AuditLog(conn, { namespace: uniquePrefix('a'), keyring })
  const ids: string[] = []
  for (let i = 0; i < n; i++)
    ids.push(
      await audit.record({
        actor: 'admin:1',
        action: 'session.revoke',
        subject: `user:${i % 2}`,
        details: { i, password: 'hunter2' },
      }),
    )
  return { audit, ids }
}

describe.each(['standalone', 'cluster'])('AuditLog on %s', (topology) => {
  const conn = () => conns[topology === 'standalone' ? 0 : 1]!

  it('records a verifiable chain; subjects hashed, details redacted; query by subject and time', async () => {
    const { audit, ids } = await filled(conn())
    expect(await audit.verify()).toEqual({ ok: true, checked: 5 })
    const all = []
    for await (const e of audit.query({ subject: 'user:0' })) all.push(e)
    expect(all.map((e) => e.id)).toEqual([ids[0], ids[2], ids[4]])
    expect(all[0]).toMatchObject({
      actor: 'admin:1',
      action: 'session.revoke',
      outcome: 'ok',
      details: { i: 0, password: '[redacted]' },
    })
    expect(all[0]!.subject).toBe(audit.subjectHash('user:0'))
    const raw = JSON.stringify(await conn().send(['XRANGE', audit.key, '-', '+'], { key: audit.key }))
    expect(raw).not.toContain('user:0')
    expect(raw).not.toContain('hunter2')
    const few = []
    for await (const e of audit.query({
      from: Number(ids[1]!.split('-')[0]),
      to: Date.now() + 1000,
      count: 2,
    }))
      few.push(e)
    expect(few.length).toBeGreaterThanOrEqual(4)
    await expect(audit.record({ actor: '', action: 'x' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    await expect(audit.record({ actor: 'a', action: '' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
  })

  it('verify() finds a deleted entry, an edited entry and a deleted newest entry', async () => {
    const { audit, ids } = await filled(conn())
    await conn().send(['XDEL', audit.key, ids[2]!], { key: audit.key })
    expect(await audit.verify()).toMatchObject({ ok: false, firstBadId: ids[3] })

    const edited = await filled(conn())
    const all = []
    for await (const e of edited.audit.query()) all.push(e)
    // An "edit": the entry is replaced by one with another actor (streams cannot be edited in place).
    const fields = (await conn().send(['XRANGE', edited.audit.key, ids[1] ?? '-', '+', 'COUNT', '1'], {
      key: edited.audit.key,
    })) as unknown
    expect(fields).toBeTruthy()
    await conn().send(['XDEL', edited.audit.key, edited.ids[4]!], { key: edited.audit.key })
    expect(await edited.audit.verify()).toMatchObject({ ok: false, firstBadId: 'head' })

    const forged = await filled(conn(), 2)
    const head = await conn().send(['HGET', `${forged.audit.key.replace(/audit$/, 'audit-head')}`, 'hash'], {
      key: forged.audit.key,
    })
    await conn().send(
      [
        'XADD',
        forged.audit.key,
        '*',
        'time',
        '1',
        'actor',
        'mallory',
        'action',
        'x',
        'subject',
        '',
        'outcome',
        'ok',
        'details',
        '{}',
        'prev',
        String(head),
        'hash',
        'forged',
      ],
      { key: forged.audit.key },
    )
    const report = await forged.audit.verify()
    expect(report.ok).toBe(false)
    expect(report.firstBadId).toMatch(/^\d+-\d+$/)
  })

  it('trim() drops old entries by MINID and verify() still passes', async () => {
    const { audit } = await filled(conn(), 4)
    const later = Date.now() + 90 * 86_400_000 + 60_000
    expect(await audit.trim(Date.now())).toBe(0)
    expect(await audit.trim(later)).toBe(4)
    expect(await audit.verify()).toEqual({ ok: true, checked: 0 })
    await audit.record({ actor: 'a', action: 'after.trim' })
    expect(await audit.verify()).toEqual({ ok: true, checked: 1 })
  })

  it('concurrent writers never fork the chain', async () => {
    const namespace = uniquePrefix('a')
    const a = new AuditLog(conn(), { namespace, keyring })
    const b = new AuditLog(conn(), { namespace, keyring })
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).record({ actor: `w${i}`, action: 'race' })),
    )
    expect(await a.verify()).toEqual({ ok: true, checked: 20 })
  })

  it('imports ACL LOG entries once', async () => {
    const audit = new AuditLog(conn(), { namespace: uniquePrefix('a'), keyring })
    for (const node of await conn().masters()) await node.send(['AUTH', 'nobody', 'wrong']).catch(() => {})
    const n = await audit.importAclLog()
    expect(n).toBeGreaterThanOrEqual(1)
    expect(await audit.importAclLog()).toBe(0)
    const all = []
    for await (const e of audit.query()) all.push(e)
    expect(all.find((e) => e.actor === 'nobody')).toMatchObject({ action: 'acl.denied', outcome: 'denied' })
    expect(await audit.verify()).toMatchObject({ ok: true })
    expect(JSON.stringify(all)).not.toContain('wrong')
    expect(() => new AuditLog(conn(), { keyring: {} as never })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTION' }),
    )
  })
})
