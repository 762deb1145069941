import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import pkg from '../../package.json'
import { parseCronCommand } from '../../src/schedule/job.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'
import { createUser, crontabOf, isRoot, removeUser, setCrontab, throwawayName } from '../helpers/users.ts'

/**
 * `clmnt self install` and `self upgrade` for real: a compiled binary under a temp prefix (never
 * /usr/local of this host), the completion scripts and the man page read back by the real shells'
 * files and `man -l`; schedules written by `health setup` into a throwaway user's real crontab (and
 * its systemd user units) re-pointed at the installed binary. The crontab part needs root.
 */

let prefix = ''
let bin = ''
beforeAll(() => {
  prefix = tempDir('clmnt-prefix-')
  chmodSync(prefix, 0o755)
  bin = join(prefix, 'bin', 'clmnt')
})
afterAll(() => removeDir(prefix))

describe('self install', () => {
  test('builds the binary from the checkout and installs it with completions and a man page', async () => {
    const r = await runCli(['self', 'install', '--prefix', prefix], { timeoutMs: 300_000 })
    expect(r.stderr).toContain(`building ${bin}`)
    expect(r.code).toBe(0)
    expect(r.stdout).toStartWith(`clmnt installed under ${prefix}\n`)
    for (const line of ['binary', 'bash completion', 'zsh completion', 'fish completion', 'man page']) expect(r.stdout).toMatch(new RegExp(`^  ${line} +installed  /`, 'm'))
    expect(statSync(bin).mode & 0o777).toBe(0o755)
    // the binary runs on its own and knows the commit it was built from
    const version = spawnSync(bin, ['version', '--json'], { encoding: 'utf8' })
    expect(version.status).toBe(0)
    const info = JSON.parse(version.stdout)
    expect(info).toMatchObject({ version: pkg.version, build: 'compiled', executable: bin })
    const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', cwd: import.meta.dir }).stdout.trim()
    expect(info.commit).toStartWith(head)
    // completions are what the installed binary itself prints
    expect(readFileSync(join(prefix, 'share/bash-completion/completions/clmnt'), 'utf8')).toBe(spawnSync(bin, ['completion', 'bash'], { encoding: 'utf8' }).stdout)
    expect(readFileSync(join(prefix, 'share/zsh/site-functions/_clmnt'), 'utf8')).toStartWith('#compdef clmnt')
    expect(existsSync(join(prefix, 'share/fish/vendor_completions.d/clmnt.fish'))).toBe(true)
  }, 300_000)

  test('the man page renders with man(1) and documents every command, option and variable', () => {
    const page = join(prefix, 'share/man/man1/clmnt.1')
    const man = spawnSync('man', ['-l', page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', MAN_KEEP_FORMATTING: '', PAGER: 'cat' } })
    expect(man.status).toBe(0)
    expect(man.stderr).toBe('')
    const text = man.stdout.replace(/.\x08/g, '')
    for (const words of ['clmnt molt health check', 'clmnt molt health setup', 'clmnt fleet backup', 'clmnt fleet restore', 'clmnt self upgrade', 'clmnt help']) expect(text).toContain(words)
    for (const option of ['--consecutive-failures', '--exclude-maildir', '--base-dir', '--prefix']) expect(text).toContain(option)
    for (const section of ['NAME', 'SYNOPSIS', 'GLOBAL OPTIONS', 'COMMANDS', 'ENVIRONMENT', 'FILES']) expect(text).toMatch(new RegExp(`^${section}$`, 'm'))
    expect(text).toContain('CLMNT_BASE_DIR')
  })

  test('again: the binary is replaced (atomically), unchanged text files are left alone; --dry-run writes nothing', async () => {
    const before = statSync(join(prefix, 'share/man/man1/clmnt.1')).mtimeMs
    // the installed binary installs itself: a copy, no build
    const r = spawnSync(bin, ['self', 'install', '--prefix', prefix], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
    expect(r.status).toBe(0)
    expect(r.stderr).not.toContain('building')
    expect(r.stdout).toMatch(/^ {2}binary +replaced {2}/m)
    expect(r.stdout).toMatch(/^ {2}bash completion +unchanged {2}/m)
    expect(statSync(join(prefix, 'share/man/man1/clmnt.1')).mtimeMs).toBe(before)
    const other = tempDir('clmnt-prefix-')
    const dry = spawnSync(bin, ['self', 'install', '--prefix', other, '--dry-run'], { encoding: 'utf8' })
    expect(dry.status).toBe(0)
    expect(dry.stdout).toMatch(/^ {2}binary +would be installed {2}/m)
    expect(spawnSync('find', [other, '-mindepth', '1'], { encoding: 'utf8' }).stdout).toBe('')
    removeDir(other)
  })

  test.skipIf(!isRoot)('without write access: "permission denied: run as root", exit 1, nothing left behind', () => {
    const locked = join(prefix, 'locked')
    mkdirSync(join(locked, 'bin'), { recursive: true, mode: 0o755 })
    const r = spawnSync('runuser', ['-u', 'nobody', '--', bin, 'self', 'install', '--prefix', locked], { encoding: 'utf8', cwd: '/', env: { ...process.env, NO_COLOR: '1' } })
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(`error permission denied: cannot write ${join(locked, 'bin', 'clmnt')}: run as root, or install for yourself with --prefix ~/.local\n`)
    expect(spawnSync('find', [locked, '-type', 'f'], { encoding: 'utf8' }).stdout).toBe('')
  })
})

describe.skipIf(!isRoot)('self upgrade re-points schedules (real crontab, throwaway user)', () => {
  let base = ''
  let user = ''
  const FOREIGN = 'MAILTO=""\n# keep me\n0 4 * * * /bin/true --nightly\n'
  beforeAll(() => {
    base = tempDir('clmnt-upgrade-')
    chmodSync(base, 0o755)
    user = throwawayName()
    createUser(join(base, user), user)
    writeMoltHome(join(base, user), { name: user, port: 19001 })
    spawnSync('chown', ['-R', `${user}:`, join(base, user)])
  })
  afterAll(() => {
    if (user) removeUser(user)
    if (base) removeDir(base)
  })

  test('cron: only the program words change; arguments, marker and foreign lines keep their bytes', async () => {
    setCrontab(user, FOREIGN)
    const setup = await runCli(['molt', 'health', 'setup', user, '--alert-email', 'ops@example.com', '-d', base])
    expect(setup.code).toBe(0)
    const before = crontabOf(user).text
    const job = before.split('\n').find((l) => l.includes("'watch'"))!
    const old = parseCronCommand(job.split(' ').slice(5).join(' '))!
    expect(old.argv[0]).not.toBe(bin)

    const dry = spawnSync(bin, ['self', 'upgrade', '--prefix', prefix, '-d', base, '--dry-run'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
    expect(dry.status).toBe(0)
    expect(dry.stdout).toContain(`schedules to re-point at ${bin}:\n  ${user}  cron     ${user}  was ${old.argv.slice(0, old.argv.indexOf('molt')).join(' ')}\n`)
    expect(crontabOf(user).text).toBe(before)

    const r = spawnSync(bin, ['self', 'upgrade', '--prefix', prefix, '-d', base, '--json'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.schedules).toEqual([{ molt: user, scheduler: 'cron', user, from: old.argv.slice(0, old.argv.indexOf('molt')), to: [bin] }])
    const after = crontabOf(user).text
    expect(after).toStartWith(FOREIGN)
    const lines = (t: string) => t.split('\n')
    expect(lines(after).length).toBe(lines(before).length)
    const newJob = lines(after).find((l) => l.includes("'watch'"))!
    expect(newJob.split(' ').slice(0, 5)).toEqual(job.split(' ').slice(0, 5))
    const now = parseCronCommand(newJob.split(' ').slice(5).join(' '))!
    expect(now.argv).toEqual([bin, ...old.argv.slice(old.argv.indexOf('molt'))])
    expect(now.errFile).toBe(old.errFile)
    // the line runs for real as the molt's user, with cron's sh
    const run = spawnSync('runuser', ['-u', user, '--', '/bin/sh', '-c', newJob.split(' ').slice(5).join(' ')], { encoding: 'utf8', cwd: '/' })
    expect(run.status).toBe(0)
    expect(existsSync(join(base, user, '.molt-state', 'health-history.jsonl'))).toBe(true)

    // a second upgrade finds nothing to do, and setup from the checkout now uses the installed path too
    const again = spawnSync(bin, ['self', 'upgrade', '--prefix', prefix, '-d', base], { encoding: 'utf8' })
    expect(again.stdout).toContain('schedules: none to re-point')
    const status = spawnSync(bin, ['molt', 'health', 'setup', user, '--status', '--json', '-d', base], { encoding: 'utf8' })
    expect(JSON.parse(status.stdout)).toMatchObject({ installed: true, command_exists: true })
  }, 60_000)

  test('systemd: the service\'s ExecStart is re-pointed, the timer untouched', async () => {
    const setup = await runCli(['molt', 'health', 'setup', user, '--scheduler', 'systemd', '-d', base])
    expect(setup.code).toBe(0)
    const unitDir = join(base, user, '.config', 'systemd', 'user')
    const service = join(unitDir, `clmnt-health-${user}.service`)
    const timer = readFileSync(join(unitDir, `clmnt-health-${user}.timer`), 'utf8')
    expect(readFileSync(service, 'utf8')).not.toContain(`ExecStart="${bin}"`)
    const r = spawnSync(bin, ['self', 'upgrade', '--prefix', prefix, '-d', base, '--json'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout).schedules).toContainEqual(expect.objectContaining({ molt: user, scheduler: 'systemd', to: [bin] }))
    expect(readFileSync(service, 'utf8')).toMatch(new RegExp(`^ExecStart="${bin}" "molt" "health" "watch" "${user}" `, 'm'))
    expect(readFileSync(join(unitDir, `clmnt-health-${user}.timer`), 'utf8')).toBe(timer)
    expect(statSync(service).uid).toBe(statSync(join(base, user)).uid)
  })
})
