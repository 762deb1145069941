import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Check, DoctorReport } from '../../src/doctor/types.ts'
import { VERSION } from '../../src/runner.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { startCommander, type FakeCommander } from '../helpers/commander.ts'
import { buildFleet, removeDir, tempDir, writeMoltHome, writeState } from '../helpers/fleet.ts'
import { decodeHeader, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'
import { createUser, isRoot, removeUser, setCrontab, throwawayName } from '../helpers/users.ts'

/** The monitoring half of `doctor`: alert routes into a real SMTP server, the watch's traces, a real crontab (root). */
const MSMTP = ['/usr/bin/msmtp', '/usr/local/bin/msmtp'].find((p) => existsSync(p))
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
const config = (value: object) => writeFileSync(join(fleet.baseDir, 'clmnt.json'), JSON.stringify(value))
const doctor = async (...args: string[]): Promise<{ code: number; report: DoctorReport; stderr: string }> => {
  const r = await runCli(['doctor', '--json', '-d', fleet.baseDir, '--timeout', '1500', ...args], { env: { CLMNT_SMTP_URL: undefined } })
  return { code: r.code, report: JSON.parse(r.stdout), stderr: r.stderr }
}
const find = (report: DoctorReport, id: string, molt?: string): Check | undefined => report.checks.find((c) => c.id === id && c.molt === molt)

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'healthy' },
  ])
  sink = await startSmtpSink()
})
afterAll(async () => {
  fleet.cleanup()
  await sink.close()
})
beforeEach(() => {
  sink.messages.length = 0
  rmSync(join(fleet.baseDir, 'clmnt.json'), { force: true })
})

describe('alert route over SMTP', () => {
  test('reachable: a TCP connect only, no mail', async () => {
    config({ alert_emails: ['ops@example.org'], mailer: 'smtp', smtp_url: sink.url() })
    const { report } = await doctor()
    expect(find(report, 'monitoring.alert', 'alpha')).toMatchObject({ level: 'ok', detail: `to ops@example.org over SMTP smtp://127.0.0.1:${sink.port} (reachable in ${find(report, 'monitoring.alert', 'alpha')!.detail.match(/in ([\d.]+) ms/)![1]} ms)` })
    expect(find(report, 'monitoring.test-alert', 'alpha')).toBeUndefined()
    expect(sink.messages).toHaveLength(0)
    expect(find(report, 'host.config')).toMatchObject({ level: 'ok', detail: 'mailer smtp, 1 alert address(es), smtp_url set' })
  })

  test('unreachable: a failed check that names the server, never the password', async () => {
    config({ alert_emails: ['ops@example.org'], mailer: 'smtp', smtp_url: 'smtp://clmnt:s3cret@127.0.0.1:1' })
    const { code, report } = await doctor()
    expect(code).toBe(1)
    expect(find(report, 'monitoring.alert', 'alpha')).toMatchObject({ level: 'fail', detail: 'to ops@example.org over SMTP smtp://127.0.0.1:1: connection refused' })
    expect(JSON.stringify(report)).not.toContain('s3cret')
  })

  test('--send-test-alert: one mail per route, marked as a test', async () => {
    config({ alert_emails: ['ops@example.org'], mailer: 'smtp', smtp_url: sink.url(), from: 'Fleet <fleet@example.org>' })
    const { report } = await doctor('--send-test-alert')
    expect(sink.messages).toHaveLength(1)
    const [mail] = sink.messages
    expect(mail!.envelope).toEqual({ from: 'fleet@example.org', to: ['ops@example.org'] })
    expect(decodeHeader(mail!.headers.subject!)).toStartWith('clmnt doctor: test alert from ')
    expect(mail!.headers['x-clmnt-notice']).toBe('test')
    expect(mail!.body).toContain('Nothing is wrong.')
    // the molts are checked at once: whichever gets there first sends, the other says so
    const details = ['alpha', 'bravo'].map((m) => find(report, 'monitoring.test-alert', m)!).map((c) => `${c.level} ${c.detail}`).sort()
    expect(details).toEqual([expect.stringMatching(/^ok same route as (alpha|bravo): sent to ops@example.org: check that it arrived$/), 'ok sent to ops@example.org: check that it arrived'])
  })
})

describe.skipIf(!MSMTP)('alert route through msmtp', () => {
  let rc: string
  beforeAll(() => {
    rc = sink.msmtprc(fleet.baseDir, 'clmnt-sender@example.org')
  })

  test('a good configuration, then one others can read, then one without a sender', async () => {
    config({ alert_emails: ['ops@example.org'], mailer: 'msmtp', msmtp_config: rc })
    let { report } = await doctor()
    expect(find(report, 'monitoring.alert', 'alpha')).toMatchObject({ level: 'ok', detail: expect.stringMatching(new RegExp(`^to ops@example.org via .*msmtp -C ${rc} \\(as \\S+\\)$`)) })

    writeFileSync(rc, `${readFileSync(rc, 'utf8')}auth on\nuser clmnt\npassword hunter2\n`)
    chmodSync(rc, 0o644)
    ;({ report } = await doctor())
    expect(find(report, 'monitoring.alert', 'alpha')).toMatchObject({ level: 'fail', detail: expect.stringContaining(': mode 0644: msmtp refuses a password file others can read'), advice: `chmod 600 ${rc}` })

    writeFileSync(rc, 'account default\nhost 127.0.0.1\n', { mode: 0o600 })
    chmodSync(rc, 0o600)
    ;({ report } = await doctor())
    expect(find(report, 'monitoring.alert', 'alpha')).toMatchObject({ level: 'fail', detail: expect.stringContaining('no `from` line') })
    // a sender in clmnt.json does it (the watch then passes --read-envelope-from)
    config({ alert_emails: ['ops@example.org'], mailer: 'msmtp', msmtp_config: rc, from: 'fleet@example.org' })
    ;({ report } = await doctor())
    expect(find(report, 'monitoring.alert', 'alpha')!.level).toBe('ok')
    rc = sink.msmtprc(fleet.baseDir, 'clmnt-sender@example.org')
  })

  test('--send-test-alert goes through the real msmtp binary', async () => {
    config({ alert_emails: ['ops@example.org'], mailer: 'msmtp', msmtp_config: rc })
    const { report } = await doctor('alpha', '--send-test-alert')
    expect(find(report, 'monitoring.test-alert', 'alpha')).toMatchObject({ level: 'ok' })
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0]!.envelope.from).toBe('clmnt-sender@example.org')
  })
})

describe('commander molt and the watch traces', () => {
  let commander: FakeCommander
  beforeAll(() => {
    commander = startCommander(fleet.baseDir, 'commander')
  })
  afterAll(() => commander.stop())

  test('a commander that answers; one that does not exist', async () => {
    config({ notify_molt: 'commander' })
    let { report } = await doctor('alpha')
    expect(find(report, 'monitoring.alert', 'alpha')).toMatchObject({ level: 'ok', detail: 'no mail: the commander molt only' })
    expect(find(report, 'monitoring.webhook', 'alpha')).toMatchObject({ level: 'ok', detail: `commander on 127.0.0.1:${commander.port} answers, hooks on at /hooks with a token` })
    config({ notify_molt: 'nobody' })
    ;({ report } = await doctor('alpha'))
    expect(find(report, 'monitoring.webhook', 'alpha')).toMatchObject({ level: 'fail', detail: expect.stringContaining('unknown molt "nobody"') })
    expect(commander.requests).toEqual([])
  })

  test('watch state: unreadable, with notices not delivered, old without a schedule', async () => {
    const home = join(fleet.baseDir, 'alpha')
    writeState(home, 'health-watch-state.json', '{ not json')
    let { report } = await doctor('alpha')
    expect(find(report, 'monitoring.watch-state', 'alpha')).toMatchObject({ level: 'warn', detail: expect.stringContaining('is not valid JSON (corrupt)') })

    const old = new Date(Date.now() - 3 * 3600_000).toISOString()
    writeState(home, 'health-watch-state.json', {
      version: 2, consecutive_failures: 3, last_check: old, last_status: 'dead', last_success: null, alert_sent: false, interval_minutes: 5, phase: 'down', threshold: 2, recent: 'FFF',
      incident: null, flapping: null, last_restart_at: null, last_incident: null, alert_config: null,
      outbox: [{ id: 'down.1', kind: 'down', created_at: old, incident: null, in_reply_to: null, facts: {}, attempts: 2, last_attempt_at: old, last_error: 'msmtp exit 75: cannot connect', delivered: {}, failed: {} }],
    })
    ;({ report } = await doctor('alpha'))
    expect(find(report, 'monitoring.watch-state', 'alpha')).toMatchObject({ level: 'warn', detail: '1 alert notice(s) not delivered: down: msmtp exit 75: cannot connect' })
    expect(find(report, 'monitoring.last-run', 'alpha')).toMatchObject({ level: 'warn', detail: '3h ago (every 5 min): more than 3 intervals ago; nothing schedules it any more' })
    rmSync(join(home, '.molt-state'), { recursive: true, force: true })
  })

  test("the commander's hooks off, or without a token: said, with what to set", async () => {
    config({ notify_molt: 'commander' })
    const file = join(commander.home, '.openclaw', 'openclaw.json')
    const original = readFileSync(file, 'utf8')
    try {
      const off = JSON.parse(original)
      off.hooks.enabled = false
      writeFileSync(file, JSON.stringify(off))
      let { report } = await doctor('alpha')
      expect(find(report, 'monitoring.webhook', 'alpha')).toMatchObject({ level: 'fail', detail: 'commander: its hooks are off (hooks.enabled is not true in openclaw.json)', advice: expect.stringContaining('"hooks": {"enabled": true, "token": "<long random>", "path": "/hooks"}') })
      const tokenless = JSON.parse(original)
      delete tokenless.hooks.token
      writeFileSync(file, JSON.stringify(tokenless))
      ;({ report } = await doctor('alpha', '--send-test-alert'))
      expect(find(report, 'monitoring.webhook', 'alpha')).toMatchObject({ level: 'fail', detail: expect.stringContaining('its hooks have no token') })
      expect(find(report, 'monitoring.test-webhook', 'alpha')).toMatchObject({ level: 'skip' })
      expect(commander.requests).toEqual([])
    } finally {
      writeFileSync(file, original)
    }
  })

  test('--send-test-alert proves the commander route: one agent turn per commander, admitted', async () => {
    config({ notify_molt: 'commander' })
    commander.requests.length = 0
    const { report } = await doctor('--send-test-alert')
    for (const molt of ['alpha', 'bravo']) expect(find(report, 'monitoring.test-webhook', molt)).toMatchObject({ level: 'ok', detail: expect.stringContaining("admitted by commander's gateway as an agent turn") })
    // the doctor also tries the commander's own gateway token (POST /tools/invoke): only hook requests count here
    const hooks = commander.requests.filter((r) => r.path.startsWith('/hooks/'))
    expect(hooks).toHaveLength(1)
    expect(hooks[0]).toMatchObject({ path: '/hooks/agent', authorization: `Bearer ${commander.hooksToken}`, body: { name: expect.stringContaining('clmnt doctor: test alert'), deliver: false } })
    commander.hooksToken = 'rotated-on-the-gateway'
    try {
      const refused = await doctor('alpha', '--send-test-alert')
      expect(find(refused.report, 'monitoring.test-webhook', 'alpha')).toMatchObject({ level: 'fail', detail: expect.stringContaining('not admitted: commander commander answered HTTP 401') })
    } finally {
      commander.hooksToken = 'hook-token-commander'
    }
  })

  test('no alert address: --send-test-alert has nothing to do', async () => {
    const { report } = await doctor('alpha', '--send-test-alert')
    expect(find(report, 'monitoring.test-alert', 'alpha')).toMatchObject({ level: 'skip', detail: 'no alert address to send it to' })
  })
})

/** A molt with its own Linux user and a real crontab: needs root (useradd, crontab -u). */
describe.skipIf(!isRoot)('a real schedule (root)', () => {
  let base = ''
  let user = ''
  const home = () => join(base, user)
  const run = async (...args: string[]) => {
    const r = await runCli(['doctor', user, '--json', '-d', base, '--timeout', '1000', ...args])
    return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport }
  }
  beforeAll(() => {
    base = tempDir('clmnt-doctor-')
    chmodSync(base, 0o755)
    user = throwawayName()
    createUser(home(), user)
    writeMoltHome(home(), { name: user, port: 19001 + 20 * 7 })
    chmodSync(home(), 0o700)
    spawnSync('chown', ['-R', `${user}:`, home()])
  })
  afterAll(() => {
    if (user) removeUser(user)
    if (base) removeDir(base)
  })

  test('user and home as they should be; no schedule yet', async () => {
    const { report } = await run()
    expect(find(report, 'molt.user', user)).toMatchObject({ level: 'ok', detail: expect.stringContaining(`${user} (uid `) })
    expect(find(report, 'molt.home', user)).toMatchObject({ level: 'ok', detail: `${home()}, owned by ${user}, mode 0700` })
    expect(find(report, 'monitoring.schedule', user)).toMatchObject({ level: 'warn', detail: expect.stringContaining(`crontab and systemd timers of ${user}`) })
  })

  test('installed: the scheduled clmnt runs as the molt user; the last run shows once the watch ran', async () => {
    const setup = await runCli(['molt', 'health', 'setup', user, '-d', base])
    expect(setup.code).toBe(0)
    let { report } = await run()
    const schedule = find(report, 'monitoring.schedule', user)!
    expect(schedule.detail).toStartWith(`crontab of ${user}: every 5 minutes`)
    // no cron daemon in a test container is worth a warning, not a failure
    expect(['ok', 'warn']).toContain(schedule.level)
    expect(find(report, 'monitoring.binary', user)).toMatchObject({ level: 'ok', detail: expect.stringMatching(new RegExp(` runs as ${user}: clmnt ${VERSION.replaceAll('.', '\\.')}$`)) })
    expect(find(report, 'monitoring.last-run', user)).toMatchObject({ level: 'fail', detail: 'never: no run recorded in health-watch-state.json' })

    const watch = spawnSync('runuser', ['-u', user, '--', process.execPath, CLI, 'molt', 'health', 'watch', user, '-d', base, '--interval', '5'], { encoding: 'utf8', cwd: '/' })
    expect(watch.status).toBe(0)
    ;({ report } = await run())
    expect(find(report, 'monitoring.last-run', user)).toMatchObject({ level: 'ok', detail: expect.stringMatching(/^(just now|\d+s ago) \(every 5 min\)$/) })
    expect(find(report, 'monitoring.watch-state', user)).toMatchObject({ level: 'ok', detail: expect.stringMatching(/^readable: pending, 1 consecutive failure\(s\)/) })
  }, 30_000)

  test('a crontab line whose binary is gone; a home that belongs to someone else', async () => {
    setCrontab(user, `# MOLT-HEALTH-WATCH ${user} every 5 min, offset 0 (clmnt molt health setup)\n*/5 * * * * '/opt/gone/clmnt' 'molt' 'health' 'watch' '${user}' 2>&1 >/dev/null | '/usr/bin/tee' '${home()}/.molt-state/cron.err'\n`)
    spawnSync('chown', ['root:', home()])
    const { code, report } = await run()
    expect(code).toBe(1)
    expect(find(report, 'monitoring.binary', user)).toMatchObject({ level: 'fail', detail: '/opt/gone/clmnt does not exist' })
    expect(find(report, 'molt.home', user)).toMatchObject({ level: 'fail', detail: `${home()} belongs to root, not ${user}`, advice: `chown -R ${user}: ${home()}` })
    spawnSync('chown', [`${user}:`, home()])
  })

  test("a bash toolkit entry: its script is checked for, never run", async () => {
    const script = join(base, 'health-watch')
    const ran = join(base, 'it-ran')
    writeFileSync(script, `#!/bin/sh\ntouch ${ran}\n`, { mode: 0o755 })
    setCrontab(user, `# MOLT-HEALTH-WATCH - Health check every 5min\n*/5 * * * * ${script} ${user} --alert-email ops@example.com >> /tmp/health.log 2>&1\n`)
    const { report } = await run()
    expect(find(report, 'monitoring.schedule', user)!.level).toBe('warn')
    expect(find(report, 'monitoring.binary', user)).toMatchObject({ level: 'warn', detail: `${script} exists (a bash toolkit script: not run)` })
    expect(existsSync(ran)).toBe(false)
  })
})
