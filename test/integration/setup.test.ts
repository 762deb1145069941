import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseCronCommand } from '../../src/schedule/job.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'
import { createUser, crontabOf, isRoot, removeUser, setCrontab, throwawayName } from '../helpers/users.ts'

/**
 * `health setup` against the real `crontab` binary (Debian's cron package). Editing another user's
 * crontab (`crontab -u`) and creating the throwaway user it belongs to both need root, so as any
 * other user this whole file is skipped. Root's own crontab is never written: every run targets
 * the throwaway user (its own molt, or --crontab-user), and the last test checks root's is untouched.
 */

const FOREIGN = 'MAILTO=""\n# keep me, exactly\nSHELL=/bin/sh\n0 4 * * * /bin/true --nightly\n\n'
/** stderr without the notice that a stale dist/clmnt is passed over (it depends on the checkout, not on setup) */
const otherStderr = (stderr: string) => stderr.replace(/^warn \S+\/dist\/clmnt is out of date.*\n/m, '')
const legacy = (molt: string) => `# MOLT-HEALTH-WATCH - Health check every 5min\n*/5 * * * * /home/op/.scripts/_molt/health-watch ${molt} --alert-email ops@example.com >> /home/op/health.log 2>&1\n`

describe.skipIf(!isRoot)('health setup with the real crontab (root)', () => {
  let base = ''
  let user = ''
  let rootCrontab: ReturnType<typeof crontabOf>
  const home = () => join(base, user)
  const setup = (...args: string[]) => runCli(['molt', 'health', 'setup', ...args, '-d', base])
  const crontab = () => {
    const read = crontabOf(user)
    expect(read.code).toBe(0)
    return read.text
  }
  const entryLines = (text: string, molt = user) => {
    const lines = text.split('\n')
    const start = lines.findIndex((l) => l.startsWith(`# MOLT-HEALTH-WATCH ${molt} `))
    if (start < 0) return []
    let end = start + 1
    while (end < lines.length && lines[end]!.includes(`'watch' '${molt}'`)) end++
    return lines.slice(start, end)
  }

  beforeAll(() => {
    rootCrontab = crontabOf()
    base = tempDir('clmnt-setup-')
    chmodSync(base, 0o755) // the molt user's cron job has to reach its home
    user = throwawayName()
    createUser(join(base, user), user)
    writeMoltHome(join(base, user), { name: user, port: 19001 + 20 * 3 })
    spawnSync('chown', ['-R', `${user}:`, join(base, user)])
    // a molt with no Linux user of its name, owned by the throwaway user
    writeMoltHome(join(base, 'plainmolt'), { name: 'plainmolt', port: 19001 + 20 * 4 })
    spawnSync('chown', ['-R', `${user}:`, join(base, 'plainmolt')])
  })

  afterAll(() => {
    if (user) removeUser(user)
    if (base) removeDir(base)
  })

  test('installs into the molt user\'s crontab, keeping its other lines byte for byte', async () => {
    setCrontab(user, FOREIGN)
    const r = await setup(user, '--alert-email', 'ops@example.com', '--remind', '1h')
    expect(otherStderr(r.stderr)).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toStartWith(`${user}: installed (crontab of ${user})\n`)
    expect(r.stdout).toMatch(/next runs {2}\d{4}-\d\d-\d\d \d\d:\d\d, (\d{4}-\d\d-\d\d )?\d\d:\d\d, (\d{4}-\d\d-\d\d )?\d\d:\d\d \(local time\)/)
    const text = crontab()
    expect(text).toStartWith(FOREIGN)
    const entry = entryLines(text)
    expect(text).toBe(`${FOREIGN}${entry.join('\n')}\n`)
    // the 4th molt on the port grid: offset 3
    expect(entry[0]).toBe(`# MOLT-HEALTH-WATCH ${user} every 5 min, offset 3 (clmnt molt health setup)`)
    expect(entry).toHaveLength(2)
    expect(entry[1]).toMatch(/^3-59\/5 \* \* \* \* '\/[^']+' /)
    const command = parseCronCommand(entry[1]!.split(' ').slice(5).join(' '))!
    expect(command.argv.slice(command.argv.indexOf('molt'))).toEqual(['molt', 'health', 'watch', user, '--base-dir', base, '--interval', '5', '--alert-email', 'ops@example.com', '--remind', '1h'])
    expect(command.errFile).toBe(join(base, user, '.molt-state', 'cron.err'))
    // cron's redirect needs the folder; it belongs to the molt
    expect(statSync(join(home(), '.molt-state')).uid).toBe(statSync(home()).uid)
  })

  test('again: unchanged, still one entry', async () => {
    const before = crontab()
    const r = await setup(user, '--alert-email', 'ops@example.com', '--remind', '1h')
    expect(r.code).toBe(0)
    expect(r.stdout).toStartWith(`${user}: unchanged (crontab of ${user})`)
    expect(crontab()).toBe(before)
  })

  test('new options replace the entry; 7 minutes takes 7 lines and says what is not exact', async () => {
    const r = await setup(user, '--interval', '7')
    expect(r.code).toBe(0)
    expect(r.stdout).toStartWith(`${user}: replaced (crontab of ${user})`)
    expect(r.stderr).toContain('gap across midnight is')
    const text = crontab()
    expect(text.match(/MOLT-HEALTH-WATCH/g)).toHaveLength(1)
    expect(entryLines(text)).toHaveLength(8)
    expect(text).toStartWith(FOREIGN)
    expect(text).not.toContain('ops@example.com')
  })

  test('--status: entry, schedule in words, next runs, last run, binary', async () => {
    let r = await setup(user, '--status')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`${user}: installed (crontab of ${user})`)
    expect(r.stdout).toContain('schedule   every 7 minutes from 00:03')
    expect(r.stdout).toContain('last run   none in the history')
    expect(r.stdout).toMatch(/command {4}\/.+ \(exists\)/)
    mkdirSync(join(home(), '.molt-state'), { recursive: true })
    writeFileSync(join(home(), '.molt-state', 'health-history.jsonl'), `${JSON.stringify({ timestamp: '2026-02-02T10:30:00.000Z', status: 'healthy', pid: 1, port: 19061, http_status: 200, response_time_ms: 3 })}\n`)
    writeFileSync(join(home(), '.molt-state', 'cron.err'), 'sh: 1: /opt/gone/clmnt: not found\n')
    spawnSync('chown', ['-R', `${user}:`, join(home(), '.molt-state')])
    expect((await setup(user, '--status')).stdout).toContain('cron.err   (stderr of the last run)\n    sh: 1: /opt/gone/clmnt: not found\n')
    r = await setup(user, '--status', '--json')
    expect(r.code).toBe(0)
    const status = JSON.parse(r.stdout)
    expect(status).toMatchObject({ molt: user, scheduler: 'cron', user, installed: true, kind: 'clmnt', interval: 7, offset: 3, command_exists: true, last_run: { timestamp: '2026-02-02T10:30:00.000Z', status: 'healthy' } })
    expect(status.next_runs).toHaveLength(3)
    expect(status.lines).toHaveLength(8)
    expect(status.cron_err).toBe('sh: 1: /opt/gone/clmnt: not found')
  })

  // the contract with `health watch` (issue 3): the line, run as cron runs it, makes the watch record a check
  test('the installed line runs the watch: as the molt user, through /bin/sh, quiet on stdout', () => {
    const line = entryLines(crontab())[1]!
    const command = line.split(' ').slice(5).join(' ')
    const state = join(home(), '.molt-state')
    // cron's environment: next to nothing
    const env = ['/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', `HOME=${home()}`, 'SHELL=/bin/sh', `LOGNAME=${user}`]
    const run = spawnSync('runuser', ['-u', user, '--', ...env, '/bin/sh', '-c', command], { encoding: 'utf8', cwd: '/' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const history = readFileSync(join(state, 'health-history.jsonl'), 'utf8').trim().split('\n')
    expect(JSON.parse(history.at(-1)!)).toMatchObject({ status: 'stopped', port: 19061 })
    expect(JSON.parse(readFileSync(join(state, 'health-watch-state.json'), 'utf8')).interval_minutes).toBe(7)
    // what cron would mail is exactly what the watch said on stderr, also kept in cron.err
    expect(readFileSync(join(state, 'cron.err'), 'utf8')).toBe(run.stdout)
  })

  test('--dry-run prints the crontab diff and changes nothing', async () => {
    const before = crontab()
    const r = await setup(user, '--interval', '15', '--dry-run')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`-# MOLT-HEALTH-WATCH ${user} every 7 min, offset 3`)
    expect(r.stdout).toContain(`+# MOLT-HEALTH-WATCH ${user} every 15 min, offset 3`)
    expect(r.stdout).toContain("+3-59/15 * * * * '")
    expect(r.stderr).toContain('dry run: nothing was changed')
    expect(crontab()).toBe(before)
  })

  test('--remove takes out exactly our entry; again is not an error; --status then says not installed', async () => {
    let r = await setup(user, '--remove')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${user}: removed 8 line(s) (crontab of ${user})\n`)
    expect(crontab()).toBe(FOREIGN)
    r = await setup(user, '--remove')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('no entry; nothing to remove')
    r = await setup(user, '--status')
    expect(r.code).toBe(1)
    expect(r.stdout).toStartWith(`${user}: not installed (crontab of ${user})`)
  })

  test('removing the only entry leaves an empty crontab', async () => {
    spawnSync('crontab', ['-u', user, '-r'])
    expect((await setup(user)).code).toBe(0)
    expect((await setup(user, '--remove')).code).toBe(0)
    expect(crontabOf(user)).toMatchObject({ code: 0, text: '' })
  })

  test("migrates the bash toolkit's entry and leaves another molt's legacy entry alone", async () => {
    setCrontab(user, `${FOREIGN}${legacy(user)}${legacy('otherbot')}`)
    const r = await setup(user, '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'migrated', removed: [{ kind: 'legacy' }] })
    const text = crontab()
    expect(text).toBe(`${FOREIGN}${entryLines(text).join('\n')}\n${legacy('otherbot')}`)
    expect(text).not.toContain(`health-watch ${user}`)
    // every argument of the old line is carried over: the address and the 5-minute interval
    const command = parseCronCommand(entryLines(text)[1]!.split(' ').slice(5).join(' '))!
    expect(command.argv.slice(command.argv.indexOf('molt'))).toEqual(['molt', 'health', 'watch', user, '--base-dir', base, '--interval', '5', '--alert-email', 'ops@example.com'])
    expect(JSON.parse(r.stdout).carried).toEqual(['--interval 5m', '--alert-email ops@example.com'])
    expect(r.stderr).toContain(`${user}: carried over from the bash toolkit's entry: --interval 5m, --alert-email ops@example.com`)
    expect(r.stderr).toContain(`${user}: the old job appended to /home/op/health.log; the watch logs to .molt-state/health.log`)
  })

  describe('migration of every legacy argument', () => {
    // these tests leave legacy entries behind: the crontab the later tests expect is put back
    let saved = ''
    beforeAll(() => {
      saved = crontab()
    })
    afterAll(() => setCrontab(user, saved))

    test('migration: --alert-email=, --consecutive-failures and */10 carry over; options given on the line win', async () => {
      const old = `# MOLT-HEALTH-WATCH - Health check every 10min\n*/10 * * * * "/opt/toolkit/.scripts/_molt/health-watch" ${user} --alert-email=a@example.org --alert-email b@example.org --consecutive-failures 3 --verbose >> /var/log/molt.log 2>&1\n`
      setCrontab(user, `${FOREIGN}${old}`)
      const r = await setup(user, '--consecutive-failures', '4', '--json')
      expect(r.code).toBe(0)
      const command = parseCronCommand(entryLines(crontab())[1]!.split(' ').slice(5).join(' '))!
      expect(command.argv.slice(command.argv.indexOf('molt'))).toEqual(['molt', 'health', 'watch', user, '--base-dir', base, '--interval', '10', '--alert-email', 'a@example.org', '--alert-email', 'b@example.org', '--consecutive-failures', '4'])
      expect(r.stderr).toContain("the old entry's --consecutive-failures 3 is replaced by the value given")
      expect(r.stderr).toContain('--verbose is not carried over')
    })

    test.each([
      ['--threshold 3', '"--threshold", which clmnt does not know'],
      ['--alert-email', 'ends with --alert-email and no value'],
      ["--alert-email 'x;y@b.io'", 'is not an address clmnt can schedule'],
    ])('migration refuses loudly what it cannot carry over (%s), and changes nothing', async (args, message) => {
      const old = `# MOLT-HEALTH-WATCH - Health check every 5min\n*/5 * * * * /home/op/.scripts/_molt/health-watch ${user} ${args} >> /home/op/health.log 2>&1\n`
      setCrontab(user, `${FOREIGN}${old}`)
      const r = await setup(user)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`error ${user}: the bash toolkit's crontab entry `)
      expect(r.stderr).toContain(message)
      expect(r.stderr).toContain(`remove the old entry first (setup ${user} --remove)`)
      expect(crontab()).toBe(`${FOREIGN}${old}`)
    })

    test('a legacy schedule that is no interval is refused unless --interval is given', async () => {
      const old = `# MOLT-HEALTH-WATCH - Health check every 5min\n3 4 * * * /home/op/.scripts/_molt/health-watch ${user} --alert-email ops@example.com\n`
      setCrontab(user, `${FOREIGN}${old}`)
      const refused = await setup(user)
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain('runs on the schedule "3 4 * * *", which clmnt cannot carry over as an interval: give --interval')
      expect(crontab()).toBe(`${FOREIGN}${old}`)
    })
  })


  test.each([
    ['--alert-email', 'a@b.io;touch /tmp/clmnt-pwned'],
    ['--alert-email', '$(touch /tmp/clmnt-pwned)@b.io'],
    ['--alert-email', '`touch /tmp/clmnt-pwned`@b.io'],
    ['--alert-email', 'a@b.io\n* * * * * touch /tmp/clmnt-pwned'],
    ['--notify-molt', 'boss;touch /tmp/clmnt-pwned'],
    ['--remind', '1h;touch /tmp/clmnt-pwned'],
    ['--interval', '5 * * * * touch /tmp/clmnt-pwned #'],
  ])('hostile %s %p is refused before the crontab is touched', async (flag, value) => {
    const before = crontab()
    const r = await setup(user, flag, value)
    expect(r.code).toBe(2)
    expect(crontab()).toBe(before)
    expect(existsSync('/tmp/clmnt-pwned')).toBe(false)
  })

  test('a hostile molt name is refused', async () => {
    const r = await runCli(['molt', 'health', 'setup', 'x;touch /tmp/clmnt-pwned', '-d', base, '--crontab-user', user])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('invalid molt name')
  })

  test('a base dir full of shell syntax is quoted: /bin/sh reads back exactly the arguments', async () => {
    const pwned = join(base, 'pwned')
    const odd = join(base, `odd $(touch pwned); 'q' \`touch pwned\` & "x"`)
    mkdirSync(odd)
    writeMoltHome(join(odd, 'oddmolt'), { name: 'oddmolt', port: 19001 })
    const r = await runCli(['molt', 'health', 'setup', 'oddmolt', '-d', odd, '--crontab-user', user])
    expect(r.code).toBe(0)
    const line = entryLines(crontab(), 'oddmolt')[1]!
    const command = line.split(' ').slice(5).join(' ')
    const { argv } = parseCronCommand(command)!
    expect(argv).toContain(odd)
    // swap the program for printf and drop the redirections: what would the shell pass on?
    const program = argv.findIndex((a) => a === 'molt')
    const words = command.replace(/ 2>&1 >\/dev\/null \| '.*$/, '').split(' ').slice(program).join(' ')
    const shell = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${words}`], { encoding: 'utf8', cwd: base })
    expect(shell.stdout.split('\0').slice(0, -1)).toEqual(argv.slice(program))
    expect(existsSync(pwned)).toBe(false)
    expect((await runCli(['molt', 'health', 'setup', 'oddmolt', '-d', odd, '--crontab-user', user, '--remove'])).code).toBe(0)
  })

  test('--crontab-user: a molt without a Linux user of its name goes into that user\'s crontab', async () => {
    const r = await setup('plainmolt', '--crontab-user', user)
    expect(r.code).toBe(0)
    expect(r.stdout).toStartWith(`plainmolt: installed (crontab of ${user})`)
    expect(entryLines(crontab(), 'plainmolt')).toHaveLength(2)
  })

  test('--all prints a table of what was done', async () => {
    const r = await setup('--all', '--crontab-user', user, '--interval', '10')
    expect(r.code).toBe(0)
    const [header, ...rows] = r.stdout.trimEnd().split('\n')
    expect(header).toMatch(/^MOLT +ACTION +WHERE +SCHEDULE +NEXT RUN$/)
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatch(new RegExp(`^${user} +replaced +crontab of ${user} +every 10 minutes`))
    expect(rows[1]).toMatch(new RegExp(`^plainmolt +replaced +crontab of ${user} +every 10 minutes`))
    const status = await setup('--all', '--crontab-user', user, '--status')
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^MOLT +INSTALLED +WHERE +SCHEDULE +NEXT RUN +LAST RUN +COMMAND\n/)
    const removed = await setup('--all', '--crontab-user', user, '--remove')
    expect(removed.code).toBe(0)
    expect(crontab()).toBe(`${FOREIGN}${legacy('otherbot')}`)
  })

  test("not root: the invoking user's own crontab (crontab without -u)", () => {
    const run = (...args: string[]) => spawnSync('runuser', ['-u', user, '--', process.execPath, CLI, 'molt', 'health', 'setup', ...args, '-d', base], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', HOME: home() } })
    let r = run('plainmolt')
    expect(otherStderr(r.stderr)).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toStartWith(`plainmolt: installed (crontab of ${user})`)
    expect(entryLines(crontab(), 'plainmolt')).toHaveLength(2)
    r = run('plainmolt', '--crontab-user', 'root')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('needs root')
    expect(run('plainmolt', '--remove').status).toBe(0)
    expect(entryLines(crontab(), 'plainmolt')).toEqual([])
  })

  test('crontab missing: says so, exit 1, claims nothing', async () => {
    const empty = join(base, 'empty-path')
    mkdirSync(empty, { recursive: true })
    const r = await runCli(['molt', 'health', 'setup', user, '-d', base], { env: { PATH: empty } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('the crontab program is not installed')
    expect(r.stdout).not.toMatch(/: (installed|replaced|unchanged|migrated) \(/)
    const status = await runCli(['molt', 'health', 'setup', user, '-d', base, '--status'], { env: { PATH: empty } })
    expect(status.code).toBe(1)
    expect(status.stdout).toContain('cannot tell: the crontab program is not installed')
  })

  test('crontab failing to write: its message, exit 1, nothing claimed', async () => {
    const fake = join(base, 'fake-path')
    mkdirSync(fake, { recursive: true })
    writeFileSync(join(fake, 'crontab'), '#!/bin/sh\nfor a; do [ "$a" = -l ] && { echo "no crontab for $2" >&2; exit 1; }; done\necho "crontab: write error: No space left on device" >&2\nexit 1\n')
    chmodSync(join(fake, 'crontab'), 0o755)
    const r = await runCli(['molt', 'health', 'setup', user, '-d', base], { env: { PATH: fake } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('No space left on device')
    expect(r.stdout).toContain('FAILED')
  })

  const systemdRunning = existsSync('/run/systemd/system')

  test('--scheduler systemd: units in the molt user\'s ~/.config/systemd/user, --status, --remove', async () => {
    const unitDir = join(home(), '.config', 'systemd', 'user')
    if (systemdRunning) {
      // a real user manager would be started for the throwaway user: only look, change nothing
      const r = await setup(user, '--scheduler', 'systemd', '--dry-run')
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(join(unitDir, `clmnt-health-${user}.timer`))
      expect(existsSync(unitDir)).toBe(false)
      return
    }
    let r = await setup(user, '--scheduler', 'systemd', '--interval', '90')
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('units written but not enabled: systemd is not running')
    expect(r.stdout).toContain(`runuser -u ${user} -- env XDG_RUNTIME_DIR=`)
    const timer = readFileSync(join(unitDir, `clmnt-health-${user}.timer`), 'utf8')
    expect(timer).toContain('OnCalendar=*-*-* 00/03:03:00\nOnCalendar=*-*-* 01/03:33:00\n')
    const service = readFileSync(join(unitDir, `clmnt-health-${user}.service`), 'utf8')
    expect(service).toContain(`"watch" "${user}" "--base-dir" "${base}" "--interval" "90"`)
    expect(statSync(join(unitDir, `clmnt-health-${user}.service`)).uid).toBe(statSync(home()).uid)
    r = await setup(user, '--scheduler', 'systemd', '--status')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('schedule   every 90 minutes from 00:03')
    r = await setup(user, '--scheduler', 'systemd', '--remove')
    expect(r.code).toBe(0)
    expect(existsSync(join(unitDir, `clmnt-health-${user}.timer`))).toBe(false)
    expect(existsSync(join(unitDir, `clmnt-health-${user}.service`))).toBe(false)
  })

  test("root's own crontab was never touched", () => {
    expect(crontabOf()).toEqual(rootCrontab)
  })
})
