import { afterAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nextRuns, planSchedule } from '../../src/schedule/cron-expr.ts'
import { watchArgs } from '../../src/schedule/job.ts'
import { enableCommands, formatCommand, readExecStart, readTimerMarker, renderTemplate, renderUnits, timerSchedule, userSystemctl } from '../../src/schedule/systemd.ts'
import type { ScheduleTarget } from '../../src/schedule/target.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

const dir = tempDir('clmnt-systemd-')
afterAll(() => removeDir(dir))

// the executable must exist for `systemd-analyze verify`: this bun will do
const argv = [process.execPath, '/opt/clmnt/src/cli.ts', ...watchArgs({ name: 'mybot', baseDir: '/srv/fleet $HOME', interval: 5, alertEmails: ['ops@example.com'], remind: '1h' })]
const units = (interval: number, offset: number) => renderUnits({ molt: 'mybot', plan: planSchedule(interval, offset), argv })

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0

describe('unit files', () => {
  test('service: a oneshot running the watch with every word quoted for systemd', () => {
    const { service } = units(5, 3)
    expect(service).toContain('\n[Service]\nType=oneshot\n')
    expect(service).toContain(`\nExecStart="${process.execPath}" "/opt/clmnt/src/cli.ts" "molt" "health" "watch" "mybot" "--base-dir" "/srv/fleet $$HOME" "--interval" "5" "--alert-email" "ops@example.com" "--remind" "1h"\n`)
    expect(service).toContain('\nDescription=clmnt health watch of molt mybot\n')
    expect(service).toContain('\nTimeoutStartSec=5min\n')
    expect(service).not.toContain('{{')
    expect(readExecStart(service)).toEqual(argv)
  })

  test('timer: an interval dividing the day is OnCalendar, same minutes as the crontab', () => {
    const { timer } = units(5, 3)
    expect(timer).toContain('\n[Timer]\nOnCalendar=*-*-* *:03/05:00\n')
    expect(timer).toContain('\nAccuracySec=1s\nRandomizedDelaySec=0\n')
    expect(timer).toContain('\nUnit=clmnt-health-mybot.service\n')
    expect(timer).toContain('\n[Install]\nWantedBy=timers.target\n')
    expect(timer).not.toContain('{{')
    expect(readTimerMarker(timer)).toEqual({ interval: 5, offset: 3 })
  })

  test('timer: several OnCalendar lines when the interval needs them (90 min)', () => {
    expect(timerSchedule(planSchedule(90, 0))).toEqual(['OnCalendar=*-*-* 00/03:00:00', 'OnCalendar=*-*-* 01/03:30:00'])
    expect(timerSchedule(planSchedule(1440, 197))).toEqual(['OnCalendar=*-*-* 03:17:00'])
  })

  test('timer: an interval that does not divide the day is a monotonic timer, exact', () => {
    expect(timerSchedule(planSchedule(7, 3))).toEqual(['OnActiveSec=3min', 'OnUnitActiveSec=7min'])
    expect(timerSchedule(planSchedule(7, 0))).toEqual(['OnActiveSec=0', 'OnUnitActiveSec=7min'])
  })

  test('a template value that is missing is an error, not an empty string', () => {
    expect(() => renderTemplate('x={{nope}}', {})).toThrow('{{nope}}')
  })
})

describe('systemctl commands', () => {
  const target = (uid: number): ScheduleTarget => ({ user: 'mybot', uid, gid: uid, home: '/home/mybot', reason: '' })
  test('for ourselves: systemctl --user', () => {
    const self = process.getuid!()
    expect(userSystemctl(target(self))).toEqual(['systemctl', '--user'])
  })

  test('for another user (as root): through runuser, with that user\'s runtime dir and bus; lingering first', () => {
    const commands = enableCommands(target(4242), 'mybot').map(formatCommand)
    expect(commands).toEqual([
      'loginctl enable-linger mybot',
      'runuser -u mybot -- env XDG_RUNTIME_DIR=/run/user/4242 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/4242/bus systemctl --user daemon-reload',
      'runuser -u mybot -- env XDG_RUNTIME_DIR=/run/user/4242 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/4242/bus systemctl --user enable --now clmnt-health-mybot.timer',
    ])
  })
})

// systemd-analyze comes with systemd; without it (non-systemd hosts, minimal containers) these are skipped
describe.skipIf(!hasAnalyze)('systemd-analyze accepts the units', () => {
  test.each<[number, number]>([[5, 3], [90, 45], [1440, 197], [7, 3], [7, 0], [1, 0]])('every %i min, offset %i: verify prints nothing', (interval, offset) => {
    const { service, timer } = units(interval, offset)
    const name = `clmnt-health-m${interval}x${offset}`
    writeFileSync(join(dir, `${name}.service`), service)
    writeFileSync(join(dir, `${name}.timer`), timer.replace('Unit=clmnt-health-mybot.service', `Unit=${name}.service`))
    const result = spawnSync('systemd-analyze', ['verify', join(dir, `${name}.timer`), join(dir, `${name}.service`)], { encoding: 'utf8' })
    // verify exits 0 even for an unparsable OnCalendar= (it is "ignored"): stderr must be empty
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  test.each<[number, number]>([[5, 3], [90, 45], [180, 121], [1440, 197]])('every %i min, offset %i: systemd fires when cron does', (interval, offset) => {
    const plan = planSchedule(interval, offset)
    for (const line of timerSchedule(plan)) {
      const spec = line.slice('OnCalendar='.length)
      const result = spawnSync('systemd-analyze', ['calendar', '--iterations=3', spec], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })
      expect(result.status).toBe(0)
      // local times, like cron-parser's; the "(in UTC)" lines are skipped
      const times = [...result.stdout.matchAll(/^\s*(?:Next elapse|Iter\. #\d+): \w+ (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)/gm)].map((m) => {
        const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
        return new Date(y, mo - 1, d, h, mi, s).getTime()
      })
      expect(times).toHaveLength(3)
      // every systemd time is a cron time (cron-parser from two minutes before, with room to spare)
      const cron = new Set(nextRuns(plan.expressions, 200, new Date(Date.now() - 120_000)).map((d) => d.getTime()))
      for (const t of times) expect(cron.has(t)).toBe(true)
    }
  })
})
