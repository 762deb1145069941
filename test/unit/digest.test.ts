import { describe, expect, test } from 'bun:test'
import { composeDigest } from '../../src/alert/digest.ts'
import { emptyOutbox, groupEntries, resolveParent, windowEnd, type OutboxEntry } from '../../src/alert/fleet-outbox.ts'

const entry = (molt: string, kind: string, queued: string, extra: Partial<OutboxEntry> = {}): OutboxEntry => ({
  key: `${molt}/${kind}/email`, molt, kind, incident: '2026-12-05T03:02:10.000Z', channel: 'email', group: 'g',
  settings: { emails: ['ops@example.org'], mailer: 'auto', msmtpConfig: null, smtpUrl: null, from: null, notifyMolt: null },
  subject: `[Claw Mountain] molt ${molt} is ${kind === 'down' ? 'DOWN (dead)' : 'UP again after 5m'}`, body: `body of ${molt}\n`,
  summary: `${molt} is ${kind}`, message_id: `<clmnt.${molt}.${kind}.1@h>`, in_reply_to: null,
  created_at: queued, queued_at: queued, attempts: 0, last_error: null, ...extra,
})

describe('the window', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 11, 5, 3, 2, s)).toISOString()
  test.each([
    ['a lone notice waits exactly the wait', [0], 30],
    ['a notice 10 s later keeps it open 30 s more', [0, 10], 40],
    ['a storm that keeps coming is cut at 4 waits', [0, 25, 50, 75, 100, 125], 120],
  ])('%s', (_, seconds, endSecond) => {
    const outbox = { ...emptyOutbox(), entries: seconds.map((s, i) => entry(`m${i}`, 'down', at(s))) }
    expect(windowEnd(outbox, 30_000)).toBe(Date.parse(at(0)) + endSecond * 1000)
  })
  test('an empty outbox has no window', () => expect(windowEnd(emptyOutbox(), 30_000)).toBeNull())
  test('a parent carried by a digest is that digest, per channel', () => {
    const outbox = { ...emptyOutbox(), sent_as: { 'email <clmnt.a.down.1@h>': { id: '<clmnt.digest.x.email@h>', at: new Date().toISOString() } } }
    expect(resolveParent(outbox, 'email', '<clmnt.a.down.1@h>')).toBe('<clmnt.digest.x.email@h>')
    expect(resolveParent(outbox, 'webhook', '<clmnt.a.down.1@h>')).toBe('<clmnt.a.down.1@h>')
    expect(groupEntries([entry('a', 'down', at(0)), entry('b', 'down', at(1), { group: 'h' }), entry('c', 'down', at(2))]).map((g) => g.map((e) => e.molt))).toEqual([['a', 'c'], ['b']])
  })
})

describe('the digest', () => {
  test('"N of M molts DOWN since HH:MM", the overview, then every notice in full', () => {
    const entries = ['b', 'a', 'c'].map((m) => entry(m, 'down', '2026-12-05T03:02:30.000Z'))
    const digest = composeDigest(entries, { total: 25, down: [{ name: 'a', since: '2026-12-05T03:02:10.000Z' }, { name: 'zz', since: '2026-12-05T01:00:00.000Z' }] }, 'claw', 30_000)
    expect(digest.subject).toBe('[Claw Mountain] 4 of 25 molts DOWN since 01:00 UTC: a, b, c, zz')
    expect(digest.body).toContain('Claw Mountain host claw: 4 of 25 molts are DOWN since 2026-12-05 01:00 UTC.')
    expect(digest.body).toContain('This digest groups 3 notices that came within 30 s of each other')
    expect(digest.body).toContain('Trouble:\n  b is down\n  a is down\n  c is down')
    expect(digest.body).toContain('=== 2/3: [Claw Mountain] molt a is DOWN (dead) ===\n\nbody of a')
  })
  test('recoveries: how many are back, and whether any are still down', () => {
    const entries = Array.from({ length: 8 }, (_, i) => entry(`m${8 - i}`, 'recovered', '2026-12-05T03:30:00.000Z'))
    expect(composeDigest(entries, { total: 10, down: [] }, 'claw', 30_000).subject).toBe('[Claw Mountain] 8 molts UP again: m1, m2, m3, m4, m5, m6 and 2 more; all 10 molts up')
    expect(composeDigest(entries, { total: 10, down: [{ name: 'x', since: '2026-12-05T03:00:00.000Z' }] }, 'claw', 30_000).subject).toBe('[Claw Mountain] 8 molts UP again: m1, m2, m3, m4, m5, m6 and 2 more; 1 of 10 still DOWN')
  })
})
