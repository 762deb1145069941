import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseCronCommand } from '../../src/schedule/job.ts'
import { repointCrontab } from '../../src/self/repoint.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { CLI } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { createUser, crontabOf, isRoot, removeUser, setCrontab, throwawayName } from '../helpers/users.ts'

/**
 * `fleet backup --schedule` writes the invoking user's own crontab (or systemd units). Root's own
 * crontab and /etc/systemd are never touched here: every run is as a throwaway user (runuser),
 * whose real crontab (crontab without -u) and ~/.config/systemd/user receive the schedule.
 */
describe.skipIf(!isRoot)('fleet backup --schedule (real crontab, as a throwaway user)', () => {
  let base = ''
  let home = ''
  let user = ''
  const FOREIGN = 'MAILTO=ops@example.org\n15 2 * * * /usr/bin/true --mine\n'
  const asUser = (...args: string[]) =>
    spawnSync('runuser', ['-u', user, '--', process.execPath, CLI, 'fleet', 'backup', '-d', base, ...args], { encoding: 'utf8', cwd: '/', env: { ...process.env, HOME: home, NO_COLOR: '1' } })

  beforeAll(() => {
    base = tempDir('clmnt-bsched-')
    chmodSync(base, 0o755)
    home = join(base, 'home')
    user = throwawayName()
    createUser(home, user)
    writeRichFleet(join(base, 'fleet'), [{ name: 'alpha', port: 19001 }, { name: 'bravo', port: 19021 }])
    spawnSync('mkdir', ['-p', home])
    spawnSync('chown', ['-R', `${user}:`, home, join(base, 'fleet')])
    base = join(base, 'fleet')
    setCrontab(user, FOREIGN)
  })
  afterAll(() => {
    if (user) removeUser(user)
    if (base) removeDir(join(base, '..'))
  })

  test('daily --keep 7: a marker and one job line, other lines kept; the line runs for real and writes an archive', () => {
    const r = asUser('--schedule', 'daily', '--keep', '7', '--exclude-maildir')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toStartWith(`fleet backup schedule for ${base}: installed (cron, your crontab)\n  schedule  daily at 03:30 (local time)\n`)
    const text = crontabOf(user).text
    expect(text).toStartWith(FOREIGN)
    const lines = text.slice(FOREIGN.length).split('\n').filter(Boolean)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toBe(`# CLMNT-FLEET-BACKUP daily at 03:30 for ${base} (clmnt fleet backup --schedule)`)
    expect(lines[1]).toStartWith('30 3 * * * ')
    const command = parseCronCommand(lines[1]!.slice('30 3 * * * '.length))!
    expect(command.argv.slice(command.argv.indexOf('fleet'))).toEqual(['fleet', 'backup', '--base-dir', base, '--exclude-maildir', '--keep', '7', '-q'])
    // no backup was made now: --schedule only schedules
    expect(existsSync(join(base, 'backups'))).toBe(false)
    // what cron would run, as that user, with cron's shell
    const run = spawnSync('runuser', ['-u', user, '--', '/bin/sh', '-c', lines[1]!.slice('30 3 * * * '.length)], { encoding: 'utf8', cwd: '/' })
    expect(run.status).toBe(0)
    expect(run.stdout + run.stderr).toBe('')
    const archives = readdirSync(join(base, 'backups')).filter((f) => f.endsWith('.tar.gz'))
    expect(archives).toHaveLength(1)
    expect(spawnSync('tar', ['-tzf', join(base, 'backups', archives[0]!)], { encoding: 'utf8' }).stdout).toContain('alpha/.molt-info')
  }, 60_000)

  test('again with another time replaces the entry in place; --dry-run shows the diff and writes nothing; off removes it', () => {
    const before = crontabOf(user).text
    const dry = asUser('--schedule', 'weekly', '--at', '01:05', '--keep', '4', '--dry-run')
    expect(dry.status).toBe(0)
    expect(dry.stdout).toContain('would be replaced')
    expect(dry.stdout).toContain(`+# CLMNT-FLEET-BACKUP weekly on Sunday at 01:05 for ${base} (clmnt fleet backup --schedule)`)
    expect(dry.stdout).toMatch(/^\+5 1 \* \* 0 '/m)
    expect(crontabOf(user).text).toBe(before)
    expect(asUser('--schedule', 'weekly', '--at', '01:05', '--keep', '4').status).toBe(0)
    const text = crontabOf(user).text
    expect(text).toStartWith(FOREIGN)
    expect(text.match(/CLMNT-FLEET-BACKUP/g)).toHaveLength(1)
    expect(text).toContain("'--keep' '4'")
    const off = asUser('--schedule', 'off')
    expect(off.status).toBe(0)
    expect(off.stdout).toContain(': removed (cron, your crontab)')
    expect(crontabOf(user).text).toBe(FOREIGN)
  })

  test('bad input is refused before the crontab is read', () => {
    for (const [args, message] of [
      [['--schedule', 'daily', '--at', '25:00'], 'invalid value "25:00" for --at'],
      [['--at', '03:00'], '--at only applies with --schedule'],
      [['--schedule', 'daily', '--keep', '0'], 'invalid value "0" for --keep'],
      [['--schedule', 'nightly'], 'invalid value "nightly" for --schedule: expected one of hourly, daily, weekly, off'],
    ] as const) {
      const r = asUser(...args)
      expect(r.status).toBe(2)
      expect(r.stderr).toContain(message)
    }
    expect(crontabOf(user).text).toBe(FOREIGN)
  })

  test('--scheduler systemd: a service and a timer in the user\'s unit folder (enabled when systemd runs)', () => {
    const r = asUser('--schedule', 'daily', '--keep', '7', '--scheduler', 'systemd')
    expect(r.status).toBe(0)
    const dir = join(home, '.config', 'systemd', 'user')
    const units = readdirSync(dir).sort()
    expect(units).toHaveLength(2)
    expect(units[0]).toMatch(/^clmnt-backup-[0-9a-f]{8}\.service$/)
    const timer = readFileSync(join(dir, units[1]!), 'utf8')
    expect(timer).toContain('OnCalendar=*-*-* 03:30:00\n')
    expect(timer).toContain('Persistent=true\n')
    expect(readFileSync(join(dir, units[0]!), 'utf8')).toMatch(new RegExp(`^ExecStart=".+" "fleet" "backup" "--base-dir" "${base}" "--keep" "7" "-q"$`, 'm'))
    expect(asUser('--schedule', 'off', '--scheduler', 'systemd').status).toBe(0)
    expect(readdirSync(dir)).toEqual([])
  })
})

test('self upgrade re-points fleet backup schedules too (pure crontab edit)', () => {
  const text = `# CLMNT-FLEET-BACKUP daily at 03:30 for /srv/fleet (clmnt fleet backup --schedule)\n30 3 * * * '/old/bun' '/old/src/cli.ts' 'fleet' 'backup' '--base-dir' '/srv/fleet' '-q' 2>&1 >/dev/null | '/usr/bin/tee' '/srv/fleet/.clmnt-backup-cron.err'\n`
  const { text: after, changed } = repointCrontab(text, ['/usr/local/bin/clmnt'])
  expect(changed).toEqual([{ molt: 'fleet backup of /srv/fleet', from: ['/old/bun', '/old/src/cli.ts'], to: ['/usr/local/bin/clmnt'] }])
  expect(after).toBe(text.replace("'/old/bun' '/old/src/cli.ts'", "'/usr/local/bin/clmnt'"))
})
