import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, LEGACY_STATUS, LEGACY_WATCH_STATE_INVALID, removeDir, tempDir, writeMoltHome, writeState } from '../helpers/fleet.ts'

let dir: string
const home = (name: string) => join(dir, name)
const status = (...args: string[]) => runCli(['molt', 'health', 'status', ...args, '-d', dir])
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString()

beforeAll(() => {
  dir = tempDir()
  for (const [i, name] of ['fresh', 'legacy', 'corrupt', 'empty', 'old', 'never'].entries()) writeMoltHome(home(name), { name, port: 19001 + 20 * i })
  writeState(home('fresh'), 'health-status.json', { timestamp: minutesAgo(2), molt: 'fresh', status: 'healthy', pid: 4242, port: 19001, http_status: 200, response_time_ms: 3.2, reason: null })
  writeState(home('fresh'), 'health-watch-state.json', { consecutive_failures: 0, last_success: minutesAgo(2), alert_sent: false })
  writeState(home('legacy'), 'health-status.json', { ...LEGACY_STATUS, last_check: minutesAgo(1) })
  writeState(home('legacy'), 'health-watch-state.json', LEGACY_WATCH_STATE_INVALID)
  writeState(home('corrupt'), 'health-status.json', '{"status": "heal')
  writeState(home('empty'), 'health-status.json', '')
  writeState(home('old'), 'health-status.json', { timestamp: minutesAgo(60), status: 'healthy', pid: 1, port: 19081, http_status: 200, response_time_ms: 1, reason: null })
})
afterAll(() => removeDir(dir))

test('a fresh healthy record: details, exit 0, no warnings', async () => {
  const result = await status('fresh')
  expect(result.code).toBe(0)
  expect(result.stderr).toBe('')
  expect(result.stdout).toContain('fresh: healthy')
  expect(result.stdout).toMatch(/checked\s+\S+ \(2m( \d+s)? ago\)/)
  expect(result.stdout).toMatch(/response\s+3\.2 ms/)
  expect(result.stdout).toContain('0 consecutive failure(s), last success 2m')
})

test('bash-toolkit files are read with real types, and said to be legacy', async () => {
  const result = await status('legacy', '--json')
  expect(result.code).toBe(1)
  const s = JSON.parse(result.stdout)
  expect(s.record).toMatchObject({ status: 'unhealthy', pid: 1234, port: 19001, http_status: null, response_time_ms: null })
  expect(s.watch).toEqual({ consecutive_failures: 3, last_success: null, alert_sent: false, interval_minutes: null })
  expect(s.stale).toBe(false)
  expect(result.stderr).toContain('bash toolkit format')
})

test.each([
  ['corrupt', 'not valid JSON'],
  ['empty', 'is empty'],
  ['never', 'no health check recorded yet'],
])('%s state file: a warning and "no data", never a crash', async (name, warning) => {
  const result = await status(name)
  expect(result.code).toBe(1)
  expect(result.stdout).toContain(`${name}: no data`)
  expect(result.stderr).toContain(warning)
  expect(result.stderr).not.toContain('internal error')
})

test('a record older than 3 × the interval is stale, with a warning', async () => {
  const result = await status('old', '--json')
  expect(result.code).toBe(1)
  expect(JSON.parse(result.stdout)).toMatchObject({ status: 'healthy', stale: true })
  expect(result.stderr).toContain('older than 3 × the 5 min interval')
})

describe('--all', () => {
  test('a table of every molt', async () => {
    const result = await status('--all')
    expect(result.code).toBe(1)
    const rows = result.stdout.trim().split('\n').map((r) => r.split(/\s{2,}/))
    expect(rows[0]).toEqual(['MOLT', 'STATUS', 'PORT', 'PID', 'HTTP', 'TIME', 'CHECKED', 'FAILS'])
    expect(rows.slice(1).map((r) => [r[0], r[1]])).toEqual([
      ['corrupt', 'no data'],
      ['empty', 'no data'],
      ['fresh', 'healthy'],
      ['legacy', 'unhealthy'],
      ['never', 'no data'],
      ['old', 'healthy'],
    ])
  })

  test('--json is an array and the only thing on stdout', async () => {
    const result = await status('--all', '--json')
    const list = JSON.parse(result.stdout)
    expect(list.map((s: { molt: string }) => s.molt)).toEqual(['corrupt', 'empty', 'fresh', 'legacy', 'never', 'old'])
    expect(list[0]).toMatchObject({ status: null, record: null, stale: true })
  })
})

test('after the watch declared an incident, status shows its phase and the incident', async () => {
  const fleet = await buildFleet([{ name: 'delta', mode: 'dead', pidFile: true }])
  try {
    const watch = (n: string) => runCli(['molt', 'health', 'watch', 'delta', '--consecutive-failures', n, '-d', fleet.baseDir])
    await watch('3')
    const pending = await runCli(['molt', 'health', 'status', 'delta', '-d', fleet.baseDir])
    expect(pending.stdout).toMatch(/watch\s+pending \(1 of 3\), 1 consecutive failure\(s\), last success never, alert not sent/)
    await watch('2')
    const down = await runCli(['molt', 'health', 'status', 'delta', '-d', fleet.baseDir])
    expect(down.stdout).toMatch(/watch\s+down, 2 consecutive failure\(s\)/)
    expect(down.stdout).toMatch(/incident\s+since \S+ \(\d+s\), first dead: PID \d+ from gateway.pid is not running; DOWN alert sent/)
  } finally {
    fleet.cleanup()
  }
})
