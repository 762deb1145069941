import { afterAll, describe, expect, test } from 'bun:test'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { historyStats, MAX_INCIDENTS, statsFromLines } from '../../src/health/history-stats.ts'
import { forEachLine, recentChecksOf, timestampMs } from '../../src/health/history.ts'
import { historyLine, type HealthRecord, type HealthStatus } from '../../src/health/record.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

const NOW = Date.parse('2026-03-01T12:00:00.000Z')
const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

/** A clean history line `ago` ms before NOW. */
function check(ago: number, status: HealthStatus = 'healthy', ms: number | null = status === 'healthy' ? 10 : null): string {
  const record: HealthRecord = { timestamp: new Date(NOW - ago).toISOString(), status, pid: 4242, port: 19001, http_status: status === 'healthy' ? 200 : null, response_time_ms: ms, reason: status === 'healthy' ? null : 'connection refused' }
  return historyLine(record).trimEnd()
}

const LEGACY = JSON.stringify({ last_check: new Date(NOW - 2 * HOUR).toISOString(), status: 'unhealthy', pid: '1234', port: '19001', http_status: '000000', response_time_ms: 'null' })
const LEGACY_HOLE = `{"last_check": "${new Date(NOW - HOUR).toISOString()}", "status": "healthy", "pid": , "port": "19001", "http_status": "200", "response_time_ms": "12"}`

const dir = tempDir()
afterAll(() => removeDir(dir))
let files = 0
function file(content: string): string {
  const path = join(dir, `h${files++}.jsonl`)
  writeFileSync(path, content)
  return path
}

describe('timestampMs', () => {
  test.each([
    '2026-03-01T12:00:00.000Z', '2026-03-01T12:00:00Z', '1999-12-31T23:59:59.999Z', '2024-02-29T00:00:00.000Z', '2100-03-01T00:00:00Z',
    '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-02-02T10:30:00+01:00', '2026-02-02T10:30:00.5Z', 'x026-01-01T00:00:00Z', 'garbage', '',
  ])('%p agrees with Date.parse', (text) => {
    expect(timestampMs(text)).toEqual(Date.parse(text))
  })
})

describe('uptime windows', () => {
  const lines = [
    check(40 * DAY, 'dead'), // all time only
    check(20 * DAY), check(20 * DAY - 5 * MIN, 'unhealthy'), // 30d
    check(3 * DAY), // 7d
    check(2 * HOUR), check(HOUR, 'stopped'), check(5 * MIN), // 24h
  ]
  const s = statsFromLines(lines, { now: NOW })
  test.each([
    ['24h', 3, 2, 66.67],
    ['7d', 4, 3, 75],
    ['30d', 6, 4, 66.67],
    ['all', 7, 4, 57.14],
  ] as const)('%s: %i checks, %i healthy, %d %%', (window, checks, healthy, percent) => {
    expect(s.uptime[window]).toEqual({ checks, healthy, percent })
  })
  test('totals and span', () => {
    expect(s.total_checks).toBe(7)
    expect(s.first_check).toBe(new Date(NOW - 40 * DAY).toISOString())
    expect(s.last_check).toBe(new Date(NOW - 5 * MIN).toISOString())
  })
  test('an empty window is null, not 0 %', () => {
    const old = statsFromLines([check(10 * DAY)], { now: NOW })
    expect(old.uptime['24h']).toEqual({ checks: 0, healthy: 0, percent: null })
    expect(old.uptime.all.percent).toBe(100)
    expect(statsFromLines([], { now: NOW })).toMatchObject({ total_checks: 0, first_check: null, incidents: [], response_time_ms: { count: 0, p50: null, p95: null, max: null } })
  })
})

describe('incidents', () => {
  test.each([
    {
      name: 'ends at the first healthy check; worst status wins',
      lines: [check(60 * MIN), check(55 * MIN, 'unhealthy'), check(50 * MIN, 'dead'), check(45 * MIN, 'unknown'), check(40 * MIN), check(35 * MIN)],
      expected: [{ start: 55, end: 40, worst: 'dead', checks: 3 }],
    },
    {
      name: 'ongoing runs to now',
      lines: [check(30 * MIN), check(20 * MIN, 'stopped'), check(10 * MIN, 'unknown')],
      expected: [{ start: 20, end: null, worst: 'stopped', checks: 2 }],
    },
    {
      name: 'severity: unhealthy < unknown < stopped < dead',
      lines: [check(50 * MIN, 'unknown'), check(45 * MIN, 'unhealthy'), check(40 * MIN), check(30 * MIN, 'unhealthy'), check(25 * MIN, 'unknown'), check(20 * MIN)],
      expected: [{ start: 50, end: 40, worst: 'unknown', checks: 2 }, { start: 30, end: 20, worst: 'unknown', checks: 2 }],
    },
    { name: 'all healthy: none', lines: [check(20 * MIN), check(10 * MIN)], expected: [] },
  ])('$name', ({ lines, expected }) => {
    const s = statsFromLines(lines, { now: NOW })
    expect(s.incident_count).toBe(expected.length)
    expect(s.incidents).toEqual(
      expected.map((e) => ({
        start: new Date(NOW - e.start * MIN).toISOString(),
        end: e.end === null ? null : new Date(NOW - e.end * MIN).toISOString(),
        ongoing: e.end === null,
        duration_ms: (e.start - (e.end ?? 0)) * MIN,
        worst: e.worst,
        checks: e.checks,
      })),
    )
  })

  test('--since keeps incidents that touch the window, with their real start', () => {
    const lines = [check(5 * HOUR, 'dead'), check(4 * HOUR), check(3 * HOUR, 'dead'), check(HOUR), check(30 * MIN)]
    const s = statsFromLines(lines, { now: NOW, since: NOW - 2 * HOUR })
    expect(s.incident_count).toBe(1)
    expect(s.incidents[0]!.start).toBe(new Date(NOW - 3 * HOUR).toISOString())
    expect(s.window_checks).toBe(2)
    expect(s.since).toBe(new Date(NOW - 2 * HOUR).toISOString())
  })

  test(`only the newest ${MAX_INCIDENTS} are kept, all are counted`, () => {
    const lines: string[] = []
    for (let i = 150; i > 0; i--) lines.push(check(i * 10 * MIN, 'dead'), check(i * 10 * MIN - MIN))
    const s = statsFromLines(lines, { now: NOW })
    expect(s.incident_count).toBe(150)
    expect(s.incidents).toHaveLength(MAX_INCIDENTS)
    expect(s.incidents.at(-1)!.start).toBe(new Date(NOW - 10 * MIN).toISOString())
  })
})

describe('response times', () => {
  test('p50 / p95 / max from the histogram, only inside the window, nulls ignored', () => {
    const lines = Array.from({ length: 100 }, (_, i) => check((100 - i) * MIN, 'healthy', i + 1)) // 1..100 ms
    lines.push(check(MIN / 2, 'unhealthy', null))
    const s = statsFromLines(lines, { now: NOW })
    expect(s.response_time_ms.count).toBe(100)
    expect(s.response_time_ms.p50).toBe(50)
    expect(s.response_time_ms.p95).toBe(95)
    expect(s.response_time_ms.max).toBe(100)
    const recent = statsFromLines(lines, { now: NOW, since: NOW - 10.5 * MIN })
    expect(recent.response_time_ms).toMatchObject({ count: 10, max: 100 })
  })
  test.each([
    { name: 'close values share a bucket: within 0.1 ms', values: [12.31, 12.34, 12.36], p50: 12.34, tolerance: 0.1 },
    { name: 'above 100 ms: within 1 %', values: [150, 2_000, 2_010, 31_000], p50: 2_000, tolerance: 20 },
    { name: 'beyond the last bucket: still the value', values: [4_000_000], p50: 4_000_000, tolerance: 0 },
  ])('$name', ({ values, p50, tolerance }) => {
    const s = statsFromLines(values.map((v, i) => check((10 - i) * MIN, 'healthy', v)), { now: NOW })
    expect(Math.abs(s.response_time_ms.p50! - p50)).toBeLessThanOrEqual(tolerance)
    expect(s.response_time_ms.max).toBe(Math.max(...values))
  })
})

describe('unreadable and legacy lines', () => {
  const lines = [check(30 * MIN), '', 'not json', '{"timestamp":"yesterday","status":"healthy"}', '42', LEGACY, LEGACY_HOLE, check(10 * MIN), '{"timestamp":"2026-03-01T11:5']
  test('skipped and counted, never fatal; legacy lines read through the schema', () => {
    const s = statsFromLines(lines, { now: NOW })
    expect(s.skipped_lines).toBe(5)
    expect(s.legacy_lines).toBe(2)
    expect(s.total_checks).toBe(4)
    expect(s.incidents[0]).toMatchObject({ worst: 'unhealthy', checks: 1, start: new Date(NOW - 2 * HOUR).toISOString() })
  })
  test('the file pass gives the same answer (batched chunk parse falls back line by line)', () => {
    const path = file(lines.join('\n')) // the last line is cut short: no newline
    expect(historyStats(path, { now: NOW })).toEqual(statsFromLines(lines, { now: NOW }))
    const clean = [check(30 * MIN), check(20 * MIN, 'dead'), check(10 * MIN)]
    expect(historyStats(file(`${clean.join('\n')}\n`), { now: NOW })).toEqual(statsFromLines(clean, { now: NOW }))
  })
  test('a missing file throws ENOENT (the command reports "no history yet")', () => {
    expect(() => historyStats(join(dir, 'nope.jsonl'))).toThrow(/ENOENT/)
  })
})

describe('forEachLine', () => {
  const collect = (content: string, chunkSize: number) => {
    const fd = openSync(file(content), 'r')
    const lines: string[] = []
    try {
      return { ...forEachLine(fd, (l) => lines.push(l), { chunkSize }), lines }
    } finally {
      closeSync(fd)
    }
  }
  test.each([
    { content: 'a\nbb\nccc\n', chunk: 4, lines: ['a', 'bb', 'ccc'], tail: '', overlong: 0 },
    { content: 'a\n\nb\ntrunc', chunk: 6, lines: ['a', '', 'b'], tail: 'trunc', overlong: 0 },
    { content: 'é€😀\nx\n', chunk: 11, lines: ['é€😀', 'x'], tail: '', overlong: 0 },
    { content: 'ab\né€😀\n', chunk: 11, lines: ['ab', 'é€😀'], tail: '', overlong: 0 }, // a character split across reads
    { content: 'x\né€😀\n', chunk: 4, lines: ['x'], tail: '', overlong: 1 },
    { content: 'ok\nthis-line-is-too-long\nok2\n', chunk: 8, lines: ['ok', 'ok2'], tail: '', overlong: 1 },
    { content: 'ok\nthis-line-is-too-long-and-cut', chunk: 8, lines: ['ok'], tail: '', overlong: 1 },
  ])('$content in $chunk-byte chunks', ({ content, chunk, lines, tail, overlong }) => {
    const scan = collect(content, chunk)
    expect(scan.lines).toEqual([...lines])
    expect(scan.tail).toBe(tail)
    expect(scan.overlong).toBe(overlong)
  })
  test('end is the offset after the last newline', () => {
    expect(collect('a\nbb\ncut', 4).end).toBe(5)
  })
})

describe('recentChecksOf', () => {
  const recentOf = (path: string, limit: number) => {
    const fd = openSync(path, 'r')
    try {
      return recentChecksOf(fd, limit)
    } finally {
      closeSync(fd)
    }
  }
  const lines = Array.from({ length: 50 }, (_, i) => check((50 - i) * MIN))
  const path = file(`${lines.join('\n')}\ngarbage\n\n${check(0, 'dead')}\n`)
  test('the last N checks, oldest first, stepping over unreadable lines', () => {
    const recent = recentOf(path, 5)
    expect(recent.skipped).toBe(2)
    expect(recent.checks.map((c) => c.timestamp)).toEqual([4, 3, 2, 1, 0].map((m) => new Date(NOW - m * MIN).toISOString()))
    expect(recent.checks.at(-1)!.status).toBe('dead')
  })
  test.each([
    [1, 1, 0],
    [51, 51, 2],
    [1000, 51, 2],
  ])('limit %i → %i checks, %i skipped', (limit, count, skipped) => {
    const recent = recentOf(path, limit)
    expect(recent.checks).toHaveLength(count)
    expect(recent.skipped).toBe(skipped)
  })
})
