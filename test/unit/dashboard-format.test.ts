import { describe, expect, test } from 'bun:test'
import { ago, backupVerdict, duration, formatMs, formatPercent, sparkline, summaryText, toneOf } from '../../src/dashboard/page/format.ts'
import type { BackupEntry, FleetCounts, RecentPoint } from '../../src/dashboard/types.ts'

const NOW = Date.parse('2026-03-01T12:00:00Z')
const MIN = 60_000
const HOUR = 60 * MIN

test.each([
  ['healthy', 'ok'],
  ['unhealthy', 'warn'],
  ['dead', 'bad'],
  ['stopped', 'bad'],
  ['unknown', 'none'],
  [null, 'none'],
] as const)('toneOf(%p) = %p: green, amber, red, grey', (status, tone) => {
  expect(toneOf(status)).toBe(tone)
})

test.each([
  [NOW - 3_000, 'just now'],
  [NOW - 45_000, '45 s ago'],
  [NOW - 2 * MIN - 5_000, '2 min ago'],
  [NOW - 3 * HOUR, '3 h ago'],
  [NOW - 47 * HOUR, '47 h ago'],
  [NOW - 72 * HOUR, '3 d ago'],
  [NOW + 60_000, 'in the future'],
  [null, 'never'],
  ['garbage', 'at an unreadable time'],
])('ago(%p) = %p', (at, text) => {
  expect(ago(at, NOW)).toBe(text)
})

test.each([
  [0, '0 s'],
  [45_000, '45 s'],
  [32 * MIN + 10_000, '32 min'],
  [2 * HOUR, '2 h'],
  [2 * HOUR + 2 * MIN, '2 h 2 min'],
  [50 * HOUR, '2 d 2 h'],
  [72 * HOUR, '3 d'],
])('duration(%p) = %p', (ms, text) => {
  expect(duration(ms)).toBe(text)
})

test.each([
  [100, '100 %'],
  [99.97, '99.9 %'],
  [97.92, '97.9 %'],
  [0, '0.0 %'],
  [null, '–'],
])('formatPercent(%p) = %p (never rounds up to 100)', (p, text) => {
  expect(formatPercent(p)).toBe(text)
})

test('formatMs', () => {
  expect(formatMs(3.21)).toBe('3.2 ms')
  expect(formatMs(123.4)).toBe('123 ms')
  expect(formatMs(null)).toBe('–')
})

describe('summaryText', () => {
  const counts = (c: Partial<FleetCounts>): FleetCounts => ({ healthy: 0, starting: 0, unhealthy: 0, dead: 0, stopped: 0, unknown: 0, no_data: 0, ...c })
  test('the non-zero counts, healthy first', () => {
    expect(summaryText(counts({ healthy: 18, unhealthy: 1, dead: 1 }))).toBe('18 healthy · 1 unhealthy · 1 dead')
  })
  test('never-checked molts are named', () => {
    expect(summaryText(counts({ stopped: 2, no_data: 1 }))).toBe('2 stopped · 1 not checked yet')
  })
  test('an empty fleet', () => {
    expect(summaryText(counts({}))).toBe('no molts')
  })
})

describe('backupVerdict: the newest good archive, and a warning past a day', () => {
  const entry = (file: string, created: string | null, status: BackupEntry['status'] = 'ok'): BackupEntry => ({
    file, path: `/b/${file}`, status, reason: null, created, size_bytes: 1, molts: [], hostname: null, base_dir: null, clmnt_version: null, format_version: null, compression: null, total_files: null, total_size_bytes: null, kind: null, parent: null,
  })
  test('no archives', () => {
    expect(backupVerdict([], NOW)).toMatchObject({ newest: null, warning: 'no backup yet' })
  })
  test('only broken archives', () => {
    const v = backupVerdict([entry('a', new Date(NOW - HOUR).toISOString(), 'corrupt'), entry('b', null, 'incomplete')], NOW)
    expect(v.newest).toBeNull()
    expect(v.warning).toContain('no good backup')
  })
  test('a fresh one, with older and broken ones around', () => {
    const fresh = entry('fresh', new Date(NOW - 3 * HOUR).toISOString())
    const v = backupVerdict([entry('new-but-corrupt', new Date(NOW - MIN).toISOString(), 'corrupt'), entry('old', new Date(NOW - 50 * HOUR).toISOString()), fresh], NOW)
    expect(v.newest).toBe(fresh)
    expect(v.age_ms).toBe(3 * HOUR)
    expect(v.warning).toBeNull()
  })
  test('legacy archives count (restore takes them)', () => {
    expect(backupVerdict([entry('l', new Date(NOW - HOUR).toISOString(), 'legacy')], NOW).warning).toBeNull()
  })
  test('older than a day', () => {
    expect(backupVerdict([entry('old', new Date(NOW - 50 * HOUR).toISOString())], NOW).warning).toBe('the newest good backup is 2 d 2 h old')
  })
})

describe('sparkline', () => {
  const p = (ms: number | null, status: RecentPoint['status'] = ms === null ? 'dead' : 'healthy'): RecentPoint => ({ timestamp: '', status, response_time_ms: ms })

  test('scaled to the slowest answer, y from the bottom', () => {
    const s = sparkline([p(10), p(20), p(5)], 100, 30, 0)
    expect(s.path).toBe('M0 15 l0 0 L50 0 L100 22.5')
    expect(s).toMatchObject({ min: 5, max: 20, answered: 3, failures: [] })
  })

  test('a check without an answer breaks the line and is marked', () => {
    const s = sparkline([p(10), p(null), p(10), p(10, 'unhealthy')], 30, 10, 0)
    expect(s.path).toBe('M0 0 l0 0 M20 0 l0 0 L30 0')
    expect(s.failures).toEqual([10, 30])
  })

  test('no answers at all: no line, every check marked', () => {
    const s = sparkline([p(null), p(null)], 10, 10, 0)
    expect(s.path).toBe('')
    expect(s.failures).toEqual([0, 10])
    expect(s.max).toBeNull()
  })

  test('one check sits in the middle', () => {
    expect(sparkline([p(7)], 120, 32).path).toBe('M60 2 l0 0')
  })

  test('no checks', () => {
    expect(sparkline([], 120, 32)).toEqual({ path: '', failures: [], min: null, max: null, answered: 0 })
  })
})
