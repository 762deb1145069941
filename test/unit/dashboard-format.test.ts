import { describe, expect, test } from 'bun:test'
import { ago, backupVerdict, duration, formatMs, formatPercent, sparkline, summaryText, toneOf } from '../../src/dashboard/page/format.ts'
import { chartModel, fromServer, moltIncidents, nearestPoint, timelineLanes, timeTicks, valueTicks } from '../../src/dashboard/page/axes.ts'
import { formatHash, groupCounts, matches, parseHash, problemsFirst, staying, type Group } from '../../src/dashboard/page/order.ts'
import { mergeSnapshot } from '../../src/dashboard/page/merge.ts'
import type { BackupEntry, DashboardMolt, FleetCounts, MoltsResponse, RecentPoint } from '../../src/dashboard/types.ts'

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

// ------------------------------------------------------------------------------------------
// problems first, filters, the charts' geometry

const molt = (name: string, fields: Partial<DashboardMolt> = {}): DashboardMolt => ({
  name, port: 19001, port_source: 'molt-info', home: `/h/${name}`, gateway: 'running', pid: 1, health: 'healthy', checked_at: new Date(NOW - MIN).toISOString(), age_seconds: 60,
  stale: false, http_status: 200, response_time_ms: 10, reason: null, consecutive_failures: 0, phase: 'up', threshold: 3, incident: null,
  uptime: { '24h': { checks: 0, healthy: 0, percent: null }, '7d': { checks: 0, healthy: 0, percent: null } }, recent: [], silence: null, last_watch_run: null, watch_interval_minutes: 5, watcher_stopped: false, warnings: [], ...fields,
})

describe('problemsFirst', () => {
  test('down/dead, unhealthy, stopped, stale, starting, silenced, healthy; by name within', () => {
    const fleet = [
      molt('a-ok'),
      molt('b-silenced', { health: 'dead', silence: { id: 's1', target: 'b-silenced', until: '2026-03-01T14:00:00Z', reason: 'upgrade', by: null } }),
      molt('c-starting', { health: 'starting' }),
      molt('d-stale', { stale: true }),
      molt('e-never', { health: null, stale: true, checked_at: null }),
      molt('f-stopped', { health: 'stopped' }),
      molt('g-unhealthy', { health: 'unhealthy' }),
      molt('h-unknown', { health: 'unknown' }),
      molt('i-dead', { health: 'dead' }),
      molt('j-declared-down', { health: 'unhealthy', phase: 'down' }),
      molt('b-dead', { health: 'dead' }),
    ]
    expect(problemsFirst(fleet).map((m) => m.name)).toEqual(['b-dead', 'i-dead', 'j-declared-down', 'g-unhealthy', 'h-unknown', 'f-stopped', 'd-stale', 'e-never', 'c-starting', 'b-silenced', 'a-ok'])
    expect(groupCounts(fleet)).toEqual({ down: 3, unhealthy: 2, stopped: 1, stale: 2, starting: 1, silenced: 1, healthy: 1 })
  })

  test('filters: groups (any of them) and a name search', () => {
    const f = { groups: ['down', 'stale'] as Group[], query: '' }
    expect(matches(molt('x', { health: 'dead' }), f)).toBe(true)
    expect(matches(molt('x'), f)).toBe(false)
    expect(matches(molt('Mail-Bot'), { groups: [], query: ' bot ' })).toBe(true)
    expect(matches(molt('other'), { groups: [], query: 'bot' })).toBe(false)
  })

  test('the URL hash keeps the filter; unknown parts are ignored', () => {
    expect(formatHash({ groups: ['unhealthy', 'down'], query: 'mail bot' })).toBe('#show=down,unhealthy&q=mail+bot')
    expect(parseHash('#show=down,unhealthy&q=mail+bot')).toEqual({ groups: ['down', 'unhealthy'], query: 'mail bot' })
    expect(parseHash('#show=bogus,stale&x=1')).toEqual({ groups: ['stale'], query: '' })
    expect(formatHash({ groups: [], query: '' })).toBe('')
  })
})

describe('chart axes', () => {
  test('round value ticks from 0 past the maximum', () => {
    expect(valueTicks(37)).toEqual([0, 10, 20, 30, 40])
    expect(valueTicks(3.2)).toEqual([0, 1, 2, 3, 4])
    expect(valueTicks(1500)).toEqual([0, 500, 1000, 1500])
    expect(valueTicks(0)).toEqual([0, 1])
  })

  test('time ticks on round clock times', () => {
    const from = Date.parse('2026-03-01T03:07:00Z')
    const { step, ticks } = timeTicks(from, from + 2 * HOUR, 6)
    expect(step).toBe(30 * MIN)
    expect(ticks.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual(['03:30', '04:00', '04:30', '05:00'])
    // a zone 2 h east of UTC: local midnights are 22:00 UTC
    expect(timeTicks(Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-03-04T00:00:00Z'), 4, 2 * HOUR).ticks.map((t) => new Date(t).toISOString().slice(5, 16))).toEqual(['03-01T22:00', '03-02T22:00', '03-03T22:00'])
  })

  test('a chart: x by time, y from 0 to the top tick, a gap and a mark for no answer', () => {
    const at = (m: number) => new Date(NOW + m * MIN).toISOString()
    const m = chartModel([{ timestamp: at(0), status: 'healthy', response_time_ms: 20 }, { timestamp: at(10), status: 'dead', response_time_ms: null }, { timestamp: at(20), status: 'healthy', response_time_ms: 40 }], { width: 240, height: 120, left: 40, right: 0, top: 0, bottom: 20 })
    expect(m.points.map((p) => [p.x, p.y])).toEqual([[40, 50], [140, null], [240, 0]])
    expect(m.path).toBe('M40 50 l0 0 M240 0 l0 0')
    expect(m.yTicks.map((t) => t.value)).toEqual([0, 10, 20, 30, 40])
    expect(nearestPoint(m.points, 130)).toBe(1)
  })
})

describe('the fleet timeline', () => {
  const at = (m: number) => new Date(NOW - m * MIN).toISOString()
  test("a molt's incidents: ended runs among its recent checks, and the ongoing one from its real start", () => {
    const m = molt('m', {
      health: 'dead', reason: 'connection refused',
      recent: [{ timestamp: at(50), status: 'healthy', response_time_ms: 5 }, { timestamp: at(40), status: 'unhealthy', response_time_ms: null }, { timestamp: at(30), status: 'dead', response_time_ms: null }, { timestamp: at(20), status: 'healthy', response_time_ms: 5 }, { timestamp: at(10), status: 'dead', response_time_ms: null }],
      incident: { since: at(12), duration_ms: 12 * MIN, status: 'dead', reason: 'PID gone', source: 'watch' },
    })
    expect(moltIncidents(m)).toEqual([
      { kind: 'molt', molt: 'm', start: NOW - 40 * MIN, end: NOW - 20 * MIN, status: 'dead', reason: null },
      { kind: 'molt', molt: 'm', start: NOW - 12 * MIN, end: null, status: 'dead', reason: 'PID gone' },
    ])
  })

  test('a start-up grace is no incident', () => {
    expect(moltIncidents(molt('s', { health: 'starting', recent: [{ timestamp: at(10), status: 'healthy', response_time_ms: 5 }, { timestamp: at(5), status: 'starting', response_time_ms: null }], incident: { since: at(5), duration_ms: 5 * MIN, status: 'unknown', reason: null, source: 'watch' } }))).toEqual([])
  })

  test('lanes: ongoing first (the longest first), then the latest; bars clipped to the window', () => {
    const lanes = timelineLanes([
      { kind: 'molt', molt: 'newer', start: NOW - 3 * HOUR, end: null, status: 'unhealthy', reason: null },
      { kind: 'molt', molt: 'old', start: NOW - 30 * HOUR, end: NOW - 20 * HOUR, status: 'dead', reason: null },
      { kind: 'molt', molt: 'recent', start: NOW - 2 * HOUR, end: NOW - HOUR, status: 'unhealthy', reason: null },
      { kind: 'molt', molt: 'now', start: NOW - 6 * HOUR, end: null, status: 'dead', reason: null },
      { kind: 'molt', molt: 'gone', start: NOW - 50 * HOUR, end: NOW - 40 * HOUR, status: 'dead', reason: null },
    ], NOW - 24 * HOUR, NOW)
    expect(lanes.map((l) => l.molt)).toEqual(['now', 'newer', 'recent', 'old'])
    expect(lanes[0]!.bars[0]).toMatchObject({ from: 0.75, to: 1 })
    expect(lanes[3]!.bars[0]).toMatchObject({ from: 0, to: 4 / 24 })
  })

  test("a silence is drawn in its molt's lane but does not bring the lane up", () => {
    const lanes = timelineLanes([
      { kind: 'silence', molt: 'quiet', start: NOW - HOUR, end: null, status: 'unknown', reason: 'upgrade' },
      { kind: 'molt', molt: 'loud', start: NOW - 2 * HOUR, end: NOW - HOUR, status: 'dead', reason: null },
    ], NOW - 24 * HOUR, NOW)
    expect(lanes.map((l) => l.molt)).toEqual(['loud', 'quiet'])
  })

  test("the server's incidents: fleet lanes, the ongoing outage's reason, the summary's prefix left out", () => {
    const iso = (ms: number) => new Date(ms).toISOString()
    const down = molt('down', { health: 'dead', reason: 'connection refused', incident: { since: iso(NOW - HOUR), duration_ms: HOUR, status: 'dead', reason: 'PID gone', source: 'watch' } })
    expect(fromServer([
      { kind: 'molt', molt: 'down', start: iso(NOW - HOUR), end: null, ongoing: true, duration_ms: HOUR, worst: 'dead', summary: 'down dead (12 checks)' },
      { kind: 'molt', molt: 'down', start: iso(NOW - 5 * HOUR), end: iso(NOW - 4 * HOUR), ongoing: false, duration_ms: HOUR, worst: 'unhealthy', summary: 'down unhealthy (3 checks)' },
      { kind: 'host', molt: '*', start: iso(NOW - 2 * HOUR), end: null, ongoing: true, duration_ms: 2 * HOUR, worst: null, summary: 'disk / 4 % free' },
      { kind: 'silence', molt: '*', start: iso(NOW - 3 * HOUR), end: iso(NOW - 2 * HOUR), ongoing: false, duration_ms: HOUR, worst: null, summary: 'silenced the whole fleet' },
      { kind: 'molt', molt: 'bad', start: 'garbage', end: null, ongoing: true, duration_ms: 0, worst: 'dead', summary: '' },
    ], [down])).toEqual([
      { kind: 'molt', molt: 'down', start: NOW - HOUR, end: null, status: 'dead', reason: 'PID gone' },
      { kind: 'molt', molt: 'down', start: NOW - 5 * HOUR, end: NOW - 4 * HOUR, status: 'unhealthy', reason: '(3 checks)' },
      { kind: 'host', molt: 'host', start: NOW - 2 * HOUR, end: null, status: 'dead', reason: 'disk / 4 % free' },
      { kind: 'silence', molt: 'whole fleet', start: NOW - 3 * HOUR, end: NOW - 2 * HOUR, status: 'unknown', reason: 'silenced the whole fleet' },
    ])
  })
})

describe('staying: the nodes a reorder leaves in place', () => {
  test('one molt moving moves one node', () => {
    // was delta charlie golf hotel alpha; golf recovered: delta charlie hotel alpha golf
    expect([...staying([0, 1, 3, 4, 2])].sort()).toEqual([0, 1, 2, 3])
  })
  test('new items always move in; an unchanged order moves nothing', () => {
    expect([...staying([0, -1, 1])].sort()).toEqual([0, 2])
    expect(staying([0, 1, 2]).size).toBe(3)
    expect(staying([]).size).toBe(0)
    expect(staying([2, 1, 0]).size).toBe(1)
  })
})

describe('mergeSnapshot: a ?since= answer on top of the fleet in hand', () => {
  const snap = (generation: number, molts: DashboardMolt[], fields: Partial<MoltsResponse> = {}): MoltsResponse => ({
    generation, generated_at: '', full: true, removed: [], partial: false, counts: { healthy: 0, starting: 0, unhealthy: 0, dead: 0, stopped: 0, unknown: 0, no_data: 0 }, molts, alerts: [], silences: [],
    host: { disk: null, memory: null, limits: { disk_free_min_percent: 10, memory_used_max_percent: 90, log_max_bytes: 1 }, problems: [], large_logs: [] }, watchers: { last_run: null, stopped: [], stale_intervals: 3 }, warnings: [], ...fields,
  })
  test('changed molts replaced in place, removed ones dropped, new ones added; fleet fields from the answer', () => {
    const have = snap(4, [molt('a'), molt('b'), molt('c')])
    const got = snap(7, [molt('b', { health: 'dead' }), molt('d')], { full: false, removed: ['c'], warnings: ['new'] })
    const merged = mergeSnapshot(have, got)
    expect(merged.molts.map((m) => [m.name, m.health])).toEqual([['a', 'healthy'], ['b', 'dead'], ['d', 'healthy']])
    expect(merged).toMatchObject({ generation: 7, full: true, removed: [], warnings: ['new'] })
  })
  test('a full answer replaces the fleet', () => {
    const got = snap(9, [molt('z')])
    expect(mergeSnapshot(snap(1, [molt('a')]), got)).toBe(got)
  })
})
