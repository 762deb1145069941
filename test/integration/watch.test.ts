import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chownSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { historyFile, pidFile, statusFile, watchLogFile, watchStateFile } from '../../src/health/paths.ts'
import { watchLockFile } from '../../src/health/watch-run.ts'
import { tryLock } from '../../src/lib/lock.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, LEGACY_WATCH_STATE_INVALID, startGateway, writeConfig, writeMoltHome, writeState } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// `health watch` as cron runs it: real processes, real gateways, real files.
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
const home = (name: string) => join(fleet.baseDir, name)
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'))
const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trimEnd().split('\n').filter(Boolean) : [])
const watch = (...args: string[]) => runCli(['molt', 'health', 'watch', ...args, '-d', fleet.baseDir, '--timeout', '2000'])
const fresh = (name: string) => rmSync(join(home(name), '.molt-state'), { recursive: true, force: true })

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'error' },
    { name: 'delta', mode: 'dead' },
    { name: 'echo', mode: 'stopped' },
    { name: 'golf', mode: 'dead' },
    { name: 'hotel', mode: 'dead' },
  ])
  writeConfig(fleet.baseDir)
  sink = await startSmtpSink()
})
afterAll(async () => {
  fleet.cleanup()
  await sink.close()
})

describe('a healthy molt', () => {
  test('quiet: exit 0, nothing on stdout or stderr; one status, one history and one log line', async () => {
    const result = await watch('alpha')
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(readJson(statusFile(home('alpha')))).toMatchObject({ molt: 'alpha', status: 'healthy', http_status: 200 })
    expect(lines(historyFile(home('alpha')))).toHaveLength(1)
    expect(lines(watchLogFile(home('alpha')))).toEqual([expect.stringMatching(/^\S+Z watch alpha: UP healthy \(HTTP 200 in [\d.]+ ms\)$/)])
    expect(readJson(watchStateFile(home('alpha')))).toMatchObject({ version: 2, phase: 'up', consecutive_failures: 0, alert_sent: false, incident: null, outbox: [] })
  })

  test('--json: the run as data, its record the same as health-status.json', async () => {
    const result = await watch('alpha', '--json')
    expect(result.code).toBe(0)
    const run = JSON.parse(result.stdout)
    expect(run).toMatchObject({ molt: 'alpha', skipped: false, phase: 'up', from: 'up', notices: [], problems: [] })
    expect(run.record).toEqual(readJson(statusFile(home('alpha'))))
  })

  test('-v: the log line on stderr, stdout still empty', async () => {
    const result = await watch('alpha', '-v')
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^watch alpha: UP healthy/)
  })

  test('--interval is recorded for status', async () => {
    await watch('alpha', '--interval', '10')
    expect(readJson(watchStateFile(home('alpha'))).interval_minutes).toBe(10)
    await watch('alpha')
    expect(readJson(watchStateFile(home('alpha'))).interval_minutes).toBe(10)
    const status = JSON.parse((await runCli(['molt', 'health', 'status', 'alpha', '--json', '-d', fleet.baseDir])).stdout)
    expect(status.watch).toMatchObject({ consecutive_failures: 0, interval_minutes: 10, phase: 'up', incident: null, waiting: [] })
  })
})

describe('no alert channel configured: the alert goes to stderr, which cron mails', () => {
  test('PENDING 1 of 2 says nothing; DOWN once; then quiet while it stays down', async () => {
    fresh('delta')
    const first = await watch('delta')
    expect(first).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(readJson(watchStateFile(home('delta')))).toMatchObject({ phase: 'pending', consecutive_failures: 1, threshold: 2 })
    const second = await watch('delta')
    expect(second.code).toBe(0)
    expect(second.stderr).toStartWith('[Claw Mountain] molt delta is DOWN (dead)\n')
    expect(second.stderr).toContain('this output is the alert')
    const third = await watch('delta')
    expect(third).toEqual({ code: 0, stdout: '', stderr: '' })
    const state = readJson(watchStateFile(home('delta')))
    expect(state).toMatchObject({ phase: 'down', consecutive_failures: 3, alert_sent: true })
    expect(state.incident.id).toBe(JSON.parse(lines(historyFile(home('delta')))[0]!).timestamp)
    expect(lines(watchLogFile(home('delta')))[1]).toContain('down notice: sent via stderr')
  })

  test('back to healthy: one RECOVERED with the outage', async () => {
    fresh('echo')
    await watch('echo', '--consecutive-failures', '1')
    const gateway = await startGateway('healthy', home('echo'))
    try {
      // the fleet registered another port for echo: point it at the new gateway
      const info = readFileSync(join(home('echo'), '.molt-info'), 'utf8').replace(/MOLT_PORT=\d+/, `MOLT_PORT=${gateway.port}`)
      writeFileSync(join(home('echo'), '.molt-info'), info)
      writeFileSync(pidFile(home('echo')), `${gateway.child.pid}\n`)
      const back = await watch('echo', '--consecutive-failures', '1')
      expect(back.code).toBe(0)
      expect(back.stderr).toMatch(/^\[Claw Mountain\] molt echo is UP again after \d+s\n/)
      expect(back.stderr).toContain('The DOWN alert went out at')
      expect(readJson(watchStateFile(home('echo')))).toMatchObject({ phase: 'up', incident: null, last_incident: { first_status: 'stopped' } })
      expect((await watch('echo')).stderr).toBe('')
    } finally {
      gateway.child.kill('SIGKILL')
    }
  })
})

describe('the bash toolkit\'s state files', () => {
  test('"alert_sent": , (invalid) with 3 failures: read, and the DOWN nobody sent goes out now', async () => {
    fresh('golf')
    writeState(home('golf'), 'health-watch-state.json', LEGACY_WATCH_STATE_INVALID)
    const result = await watch('golf')
    expect(result.code).toBe(0)
    expect(result.stderr).toStartWith('[Claw Mountain] molt golf is DOWN (dead)')
    expect(result.stderr).toContain('first failure   2026-02-02 10:30:00 UTC (estimated)')
    expect(readJson(watchStateFile(home('golf')))).toMatchObject({ version: 2, consecutive_failures: 4, alert_sent: true, last_success: null })
  })

  test('"alert_sent": 1, "last_success": "null": the alert was sent, none again', async () => {
    fresh('hotel')
    writeState(home('hotel'), 'health-watch-state.json', '{"consecutive_failures": "5", "last_success": "null", "alert_sent": 1, "last_check": "2026-02-02T10:30:00Z"}')
    const result = await watch('hotel', '--json')
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout)).toMatchObject({ phase: 'down', consecutive_failures: 6, notices: [] })
  })

  test('a corrupt state file: a warning, and the watch starts afresh', async () => {
    fresh('hotel')
    writeState(home('hotel'), 'health-watch-state.json', '{"consecutive_failures": 2, "ale')
    const result = await watch('hotel')
    expect(result.code).toBe(0)
    expect(result.stderr).toContain('is not valid JSON (corrupt); ignoring it; starting afresh')
    expect(readJson(watchStateFile(home('hotel')))).toMatchObject({ phase: 'pending', consecutive_failures: 1 })
  })
})

describe('clmnt.json and flags', () => {
  afterAll(() => writeConfig(fleet.baseDir))

  test('settings come from clmnt.json; a flag overrides them', async () => {
    writeConfig(fleet.baseDir, { consecutive_failures: 1, dashboard: { token: 'x' } })
    fresh('bravo')
    const byConfig = await watch('bravo', '--json')
    expect(JSON.parse(byConfig.stdout)).toMatchObject({ phase: 'down', threshold: 1 })
    fresh('bravo')
    const byFlag = await watch('bravo', '--json', '--consecutive-failures', '3')
    expect(JSON.parse(byFlag.stdout)).toMatchObject({ phase: 'pending', threshold: 3 })
  })

  test('an invalid clmnt.json stops the run with exit 2 and the key to fix', async () => {
    writeConfig(fleet.baseDir, { alert_emails: ['not an address'] })
    const result = await watch('alpha')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('clmnt.json: alert_emails: expected a list of mail addresses')
  })
})

test.each([
  [['--consecutive-failures', '0'], 'invalid value "0" for --consecutive-failures: expected a whole number from 1 to 64'],
  [['--consecutive-failures', '65'], 'expected a whole number from 1 to 64'],
  [['--alert-email', 'ops@example.org\r\nBcc: x@y.org'], 'for --alert-email: expected a mail address'],
  [['--remind', 'soon'], 'invalid value "soon" for --remind'],
  [['--restart-cmd', 'openclaw gateway restart; reboot'], "invalid value for --restart-cmd: ';' is shell syntax"],
  [['--mailer', 'sendmail'], 'expected one of auto, msmtp, smtp'],
  [['--interval', '0'], 'for --interval: expected a duration like 5m, 90m or 1h, from 1m to 1d'],
  [['--notify-molt', '../x'], 'invalid molt name'],
])('usage error %p: exit 2, nothing checked', async (args, message) => {
  const before = lines(historyFile(home('alpha'))).length
  const result = await watch('alpha', ...args)
  expect(result.code).toBe(2)
  expect(result.stderr).toContain(message)
  expect(lines(historyFile(home('alpha')))).toHaveLength(before)
})

test('an unknown molt is exit 2', async () => {
  const result = await watch('nosuch')
  expect(result.code).toBe(2)
  expect(result.stderr).toContain('unknown molt "nosuch"')
})

describe('never pile up', () => {
  test('while another run holds the lock: exit 0 at once, a log line, no check', async () => {
    const before = lines(historyFile(home('alpha'))).length
    const held = tryLock(watchLockFile(home('alpha')), 'test holder')
    if (!held.ok) throw new Error('lock not taken')
    try {
      const result = await watch('alpha', '--json')
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({ skipped: true, holder: { pid: process.pid, command: 'test holder' } })
      expect(result.stderr).toContain('alpha: skipped, another watch run is active')
    } finally {
      held.lock.release()
    }
    expect(lines(historyFile(home('alpha')))).toHaveLength(before)
    expect(lines(watchLogFile(home('alpha'))).at(-1)).toContain(`watch alpha: skipped, another watch run is active (PID ${process.pid} since`)
  })

  test('20 concurrent runs on one molt: a valid state, one history line per run that was not skipped, at most one alert', async () => {
    fresh('delta')
    const rc = sink.msmtprc(fleet.baseDir)
    sink.messages.length = 0
    const runs = await Promise.all(Array.from({ length: 20 }, () => watch('delta', '--json', '--consecutive-failures', '1', '--alert-email', 'ops@example.org', '--msmtp-config', rc)))
    for (const run of runs) expect(run.code).toBe(0)
    const results = runs.map((r) => JSON.parse(r.stdout))
    const ran = results.filter((r) => !r.skipped).length
    expect(ran).toBeGreaterThanOrEqual(1)
    expect(lines(historyFile(home('delta')))).toHaveLength(ran)
    const state = readJson(watchStateFile(home('delta')))
    expect(state).toMatchObject({ version: 2, phase: 'down', consecutive_failures: ran, alert_sent: true, outbox: [] })
    expect(sink.messages).toHaveLength(1)
    expect(results.flatMap((r) => r.notices).filter((n: { delivered: string[] }) => n.delivered.length)).toHaveLength(1)
    expect(lines(watchLogFile(home('delta')))).toHaveLength(20)
  }, 30_000)
})

// Ownership can only be given away by root; as another user there is nothing to test.
test.skipIf(process.getuid?.() !== 0)('as root, every file the watch creates in a molt home belongs to the molt user', async () => {
  const dir = join(fleet.baseDir, 'india')
  writeMoltHome(dir, { name: 'india', port: 1 })
  chownSync(dir, 4242, 4243)
  await watch('india')
  const made = ['health-watch-state.json', 'health.log', 'health-watch.lock', 'health-status.json', 'health-history.jsonl'].map((f) => join(dir, '.molt-state', f))
  for (const path of [join(dir, '.molt-state'), ...made]) {
    const st = statSync(path)
    expect([path, st.uid, st.gid]).toEqual([path, 4242, 4243])
  }
})

test('--dry-run: the check and the decision, and nothing recorded, sent or restarted', async () => {
  fresh('hotel')
  const dry = await watch('hotel', '--dry-run', '--consecutive-failures', '1', '--alert-email', 'ops@example.org', '--restart', '--restart-cmd', '/bin/false', '--json')
  expect(dry.code).toBe(0)
  expect(JSON.parse(dry.stdout)).toMatchObject({ molt: 'hotel', dry_run: true, record: { status: 'dead' }, from: 'up', to: 'down', consecutive_failures: 1, would_send: [{ kind: 'down', channels: ['email'] }], waiting: 0, would_restart: true })
  expect(existsSync(join(home('hotel'), '.molt-state'))).toBe(false)
  const text = await watch('hotel', '--dry-run', '--consecutive-failures', '2')
  expect(text.stdout).toMatch(/^hotel: dead \(.*\); UP → PENDING, 1 failure\(s\) in a row\n {2}would send {2}nothing\n {2}would restart {2}no\n$/)
  expect(text.stderr).toContain('dry run: nothing was recorded, sent or restarted')
  expect(existsSync(join(home('hotel'), '.molt-state'))).toBe(false)
})
