import { expect, test } from 'bun:test'
import { activeSilence, holdNotice, HELD_MAX, isOver, newSilence, pruneSilences, type SilencesFile } from '../../src/health/silence.ts'
import { summaryOf } from '../../src/health/watch-silence.ts'

const T = Date.parse('2026-12-05T03:00:00.000Z')

test('a silence covers its molt, or every molt with --all, from its start to its end or --end', () => {
  const one = newSilence('delta', T, 3_600_000, 'upgrade', 'root')
  const all = newSilence('*', T + 60_000, 600_000, null, null)
  const file: SilencesFile = { version: 1, silences: [one, all] }
  expect(activeSilence(file, 'delta', T + 1000)?.id).toBe(one.id)
  expect(activeSilence(file, 'kilo', T + 1000)).toBeNull()
  expect(activeSilence(file, 'kilo', T + 120_000)?.id).toBe(all.id)
  expect(activeSilence(file, 'delta', T + 3_600_000)).toBeNull()
  expect(isOver(one, T + 3_599_999)).toBe(false)
  one.ended_at = new Date(T + 5000).toISOString()
  expect(isOver(one, T + 6000)).toBe(true)
  expect(activeSilence(file, 'delta', T + 6000)).toBeNull()
})

test('held notices are capped; summarised silences are forgotten after a week', () => {
  const s = newSilence('*', T, 60_000, null, null)
  for (let i = 0; i < HELD_MAX + 5; i++) holdNotice(s, { molt: `m${i}`, kind: 'down', subject: 'x', at: new Date(T).toISOString() })
  expect(s.held).toHaveLength(HELD_MAX)
  expect(s.held_dropped).toBe(5)
  s.summary_at = new Date(T + 60_000).toISOString()
  const file: SilencesFile = { version: 1, silences: [s] }
  pruneSilences(file, T + 6 * 86_400_000)
  expect(file.silences).toHaveLength(1)
  pruneSilences(file, T + 8 * 86_400_000)
  expect(file.silences).toHaveLength(0)
})

test('the summary of a fleet silence: what was held, and who is still down', () => {
  const s = newSilence('*', T, 7_200_000, 'host reboot', null)
  holdNotice(s, { molt: 'a', kind: 'down', subject: '[Claw Mountain] molt a is DOWN (dead)', at: '2026-12-05T03:10:00.000Z' })
  const summary = summaryOf(s, { total: 25, down: [{ name: 'a', since: '2026-12-05T03:10:00.000Z' }] }, 'clmnt -d /srv/fleet')
  expect(summary.subject).toBe('[Claw Mountain] silence on the whole fleet over: 1 notice(s) held; 1 of 25 molts DOWN (a)')
  expect(summary.body).toContain('The silence on the whole fleet ended at 2026-12-05 05:00 UTC (it began 2026-12-05 03:00 UTC, 2h).')
  expect(summary.body).toContain('  2026-12-05 03:10 UTC  molt a is DOWN (dead)')
  expect(summary.body).toContain('  a DOWN since 2026-12-05 03:10 UTC')
  expect(summary.body).toContain('  clmnt -d /srv/fleet molt health status --all')
})
