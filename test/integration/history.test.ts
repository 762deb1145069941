import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { historyLine, type HealthRecord } from '../../src/health/record.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome, writeState } from '../helpers/fleet.ts'

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
// relative to the real clock: the CLI has no --now
const NOW = Date.now()

const entry = (ago: number, status: HealthRecord['status'] = 'healthy', ms: number | null = status === 'healthy' ? 20 : null): string =>
  historyLine({ timestamp: new Date(NOW - ago).toISOString(), status, pid: 4242, port: 19001, http_status: status === 'healthy' ? 200 : null, response_time_ms: ms, reason: status === 'healthy' ? null : 'connection refused' })

/**
 * alpha, oldest first: daily checks for 100 days with an old incident (dead, 10 d ago, 3 checks,
 * 15 min), one within the last day (unhealthy, 2 h ago, 10 min), two unreadable lines and an
 * ongoing one (stopped, the last 2 checks). 108 checks, 102 healthy.
 */
function alphaHistory(): string {
  const lines: string[] = []
  for (let day = 100; day >= 11; day--) lines.push(entry(day * DAY, 'healthy', 10))
  lines.push(entry(10 * DAY, 'dead'), entry(10 * DAY - 5 * MIN, 'dead'), entry(10 * DAY - 10 * MIN, 'dead'), entry(10 * DAY - 15 * MIN, 'healthy', 10))
  for (let day = 9; day >= 2; day--) lines.push(entry(day * DAY, 'healthy', 10))
  lines.push(entry(3 * HOUR, 'healthy', 30), entry(2 * HOUR, 'unhealthy'), entry(2 * HOUR - 10 * MIN, 'healthy', 40), entry(HOUR, 'healthy', 50))
  lines.push('this is not json\n', '\n', entry(10 * MIN, 'stopped'), entry(5 * MIN, 'stopped'))
  return lines.join('')
}

let base: string
beforeAll(() => {
  base = tempDir()
  writeMoltHome(join(base, 'alpha'), { name: 'alpha', port: 19001 })
  writeState(join(base, 'alpha'), 'health-history.jsonl', alphaHistory())
  writeMoltHome(join(base, 'beta'), { name: 'beta', port: 19021 })
})
afterAll(() => removeDir(base))

const history = (...args: string[]) => runCli(['molt', 'health', 'history', ...args, '-d', base])

describe('clmnt molt health history', () => {
  test('human summary: uptime, incidents, response times, recent checks', async () => {
    const r = await history('alpha', '--limit', '3')
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('alpha: 108 checks')
    expect(r.stdout).toContain('(2 unreadable lines skipped)')
    expect(r.stdout).toMatch(/^24h\s+50\.00%\s+6$/m)
    expect(r.stdout).toMatch(/^all\s+94\.44%\s+108$/m)
    expect(r.stdout).toContain('Incidents (all time): 3')
    expect(r.stdout).toMatch(/^\S+ \S+\s+\S+ \S+\s+15m\s+dead\s+3$/m)
    expect(r.stdout).toMatch(/ongoing\s+10m( \d+s)?\s+stopped\s+2$/m)
    expect(r.stdout).toMatch(/Response time \(all time\): p50 10 ms\s+p95 10 ms\s+max 50 ms\s+\(102 answers\)/)
    expect(r.stdout).toContain('Recent checks (last 3):')
    expect(r.stdout).toMatch(/^TIME\s+STATUS\s+HTTP\s+RESPONSE\s+REASON$/m)
    expect(r.stdout).toMatch(/stopped\s+-\s+-\s+connection refused$/m)
  })

  test('--json: one object with real types', async () => {
    const r = await history('alpha', '--json', '--limit', '2')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ molt: 'alpha', recent_skipped: 0 })
    expect(typeof out.generated_at).toBe('string')
    const s = out.stats
    expect(s).toMatchObject({ total_checks: 108, skipped_lines: 2, legacy_lines: 0, since: null, window_checks: 108, incident_count: 3 })
    expect(s.uptime['24h']).toEqual({ checks: 6, healthy: 3, percent: 50 })
    expect(s.uptime.all).toEqual({ checks: 108, healthy: 102, percent: 94.44 })
    expect(s.incidents[0]).toEqual({ start: new Date(NOW - 10 * DAY).toISOString(), end: new Date(NOW - 10 * DAY + 15 * MIN).toISOString(), ongoing: false, duration_ms: 15 * MIN, worst: 'dead', checks: 3 })
    expect(s.incidents[2]).toMatchObject({ end: null, ongoing: true, worst: 'stopped', checks: 2 })
    expect(s.response_time_ms).toEqual({ count: 102, p50: 10, p95: 10, max: 50 })
    expect(s.incidents[2].duration_ms).toBeGreaterThanOrEqual(10 * MIN)
    expect(out.recent).toHaveLength(2)
    expect(out.recent[1]).toEqual({ timestamp: new Date(NOW - 5 * MIN).toISOString(), molt: 'alpha', status: 'stopped', pid: 4242, port: 19001, http_status: null, response_time_ms: null, reason: 'connection refused' })
  })

  test('--since 24h narrows incidents and response times, not uptime', async () => {
    const out = JSON.parse((await history('alpha', '--since', '24h', '--json')).stdout)
    expect(out.stats.incident_count).toBe(2)
    expect(out.stats.incidents.map((i: { worst: string }) => i.worst)).toEqual(['unhealthy', 'stopped'])
    expect(out.stats.response_time_ms).toEqual({ count: 3, p50: 40, p95: 50, max: 50 })
    expect(out.stats.window_checks).toBe(6)
    expect(out.stats.uptime.all.checks).toBe(108)
    expect(Date.parse(out.stats.since)).toBeGreaterThan(NOW - DAY - HOUR)
  })

  test('--no-stats lists only the last N checks', async () => {
    const r = await history('alpha', '--no-stats', '--limit', '2')
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('WINDOW')
    expect(r.stdout.trim().split('\n')).toHaveLength(4) // title, header, 2 rows
    const json = JSON.parse((await history('alpha', '--no-stats', '--limit', '4', '--json')).stdout)
    expect(json.stats).toBeNull()
    expect(json.recent.map((c: HealthRecord) => c.status)).toEqual(['healthy', 'healthy', 'stopped', 'stopped'])
    expect(json.recent_skipped).toBe(2)
  })

  test('no history yet: a warning, exit 0, zero totals in JSON', async () => {
    const r = await history('beta')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('no history yet for beta')
    const json = await history('beta', '--json')
    const out = JSON.parse(json.stdout)
    expect(out.stats).toMatchObject({ total_checks: 0, incident_count: 0, incidents: [], uptime: { all: { checks: 0, healthy: 0, percent: null } }, response_time_ms: { count: 0, p50: null } })
    expect(out.recent).toEqual([])
  })

  test.each([
    [['alpha', '--limit', 'abc'], 'invalid value "abc" for --limit'],
    [['alpha', '--limit', '0'], 'invalid value "0" for --limit'],
    [['alpha', '--since', 'yesterday'], 'invalid value "yesterday" for --since'],
    [['alpha', '--prune', 'forever'], 'invalid value "forever" for --prune'],
    [['../x'], 'invalid molt name "../x"'],
    [['gamma'], 'unknown molt "gamma"'],
  ])('%p → exit 2: %s', async (args, message) => {
    const r = await history(...args)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    const first = r.stderr.split('\n')[0]!
    expect(first).toContain(message)
    expect(r.stderr).not.toContain('    at ')
  })
})

describe('clmnt molt health history --prune', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir()
    writeMoltHome(join(dir, 'gamma'), { name: 'gamma', port: 19041 })
    const legacy = `${JSON.stringify({ last_check: new Date(NOW - DAY).toISOString(), status: 'unhealthy', pid: '1234', port: '19041', http_status: '000000', response_time_ms: 'null' })}\n`
    writeState(join(dir, 'gamma'), 'health-history.jsonl', [entry(120 * DAY), entry(95 * DAY, 'dead'), entry(30 * DAY), 'garbage\n', legacy, entry(HOUR)].join(''))
  })
  afterAll(() => removeDir(dir))

  test('--dry-run counts what --prune would do and changes nothing (no temp file either)', async () => {
    const file = join(dir, 'gamma', '.molt-state', 'health-history.jsonl')
    const before = { text: readFileSync(file, 'utf8'), entries: readdirSync(join(dir, 'gamma', '.molt-state')) }
    const r = await runCli(['molt', 'health', 'history', 'gamma', '--prune', '90d', '--dry-run', '--json', '-d', dir])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ molt: 'gamma', kept: 3, removed: 2, invalid: 1, normalized: 1, rewritten: false, dry_run: true })
    const text = await runCli(['molt', 'health', 'history', 'gamma', '--prune', '90d', '--dry-run', '-d', dir])
    expect(text.stdout).toMatch(/^gamma: would keep 3 checks since .*, remove 2 and 1 unreadable; \d+ → \d+ bytes \(dry run: nothing was changed\)$/m)
    expect(readFileSync(file, 'utf8')).toBe(before.text)
    expect(readdirSync(join(dir, 'gamma', '.molt-state'))).toEqual(before.entries)
    const alone = await runCli(['molt', 'health', 'history', 'gamma', '--dry-run', '-d', dir])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('--dry-run only applies with --prune')
  })

  test('keeps what is newer than the cutoff, on disk, atomically', async () => {
    const r = await runCli(['molt', 'health', 'history', 'gamma', '--prune', '90d', '--json', '-d', dir])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ molt: 'gamma', kept: 3, removed: 2, invalid: 1, normalized: 1, rewritten: true, appended_during: 0 })
    expect(typeof out.bytes_before).toBe('number')
    const stateDir = join(dir, 'gamma', '.molt-state')
    const lines = readFileSync(join(stateDir, 'health-history.jsonl'), 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(JSON.parse(lines[1]!)).toMatchObject({ status: 'unhealthy', pid: 1234, http_status: null })
    expect(out.bytes_after).toBe(readFileSync(join(stateDir, 'health-history.jsonl')).length)
    expect(readdirSync(stateDir).filter((f) => f.endsWith('.tmp'))).toEqual([])

    const again = await runCli(['molt', 'health', 'history', 'gamma', '--prune', '90d', '-d', dir])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^gamma: kept 3 checks since .*, removed 0; \d+ → \d+ bytes$/m)
  })
})
