import { afterAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InputError, UsageError } from '../../src/lib/errors.ts'
import { clmntCommand, cronCommand, parseCronCommand, shQuote, systemdQuote, watchArgs } from '../../src/schedule/job.ts'
import { setupRequest } from '../../src/schedule/options.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

const dir = tempDir('clmnt-job-')
afterAll(() => removeDir(dir))

const PWNED = join(dir, 'pwned')
const HOSTILE = [
  `$(touch ${PWNED})`,
  `\`touch ${PWNED}\``,
  `; touch ${PWNED}`,
  `&& touch ${PWNED} ||`,
  `| touch ${PWNED}`,
  `> ${PWNED}`,
  "it's",
  "'",
  "''",
  '"',
  '\\',
  '$HOME',
  '${HOME}',
  '*',
  '~',
  'a b\tc',
  '--all',
  '',
  'ünïcödé ✓',
]

/** Let /bin/sh parse the words and print what it got, NUL-separated. */
function shellWords(words: string): string[] {
  const result = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${words}`], { encoding: 'utf8' })
  expect(result.status).toBe(0)
  return result.stdout.split('\0').slice(0, -1)
}

describe('/bin/sh quoting', () => {
  test.each(HOSTILE)('%p is one literal word', (value) => {
    expect(shellWords(shQuote(value))).toEqual([value])
    expect(existsSync(PWNED)).toBe(false)
  })

  test('a whole job command runs the program with exactly its arguments, nothing else', () => {
    // a stand-in for clmnt that records its argv; the base dir is as hostile as a path can be
    const bin = join(dir, 'fake clmnt')
    const out = join(dir, 'argv')
    writeFileSync(bin, `#!/bin/sh\nprintf '%s\\0' "$@" > '${out}'\necho to-stdout\necho to-stderr >&2\n`)
    chmodSync(bin, 0o755)
    const baseDir = join(dir, `fleet $(touch ${PWNED}); '\`x\`"`)
    mkdirSync(join(baseDir, 'mybot', '.molt-state'), { recursive: true })
    const args = watchArgs({ name: 'mybot', baseDir, interval: 5, alertEmails: ['a@b.io', 'c+d@e.io'], remind: '1h', notifyMolt: 'boss', restart: true, consecutiveFailures: 3, timeoutMs: 2000 })
    const errFile = join(baseDir, 'mybot', '.molt-state', 'cron.err')
    const command = cronCommand([bin, ...args], errFile)
    // cron hands everything after an unescaped % to stdin: there must be none
    expect(command).not.toContain('%')
    const result = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8' })
    expect(result.status).toBe(0)
    // stdout to /dev/null; stderr both to cron.err and on to cron (which mails what it gets)
    expect(result.stdout).toBe('to-stderr\n')
    expect(readFileSync(out, 'utf8').split('\0').slice(0, -1)).toEqual(args)
    expect(readFileSync(errFile, 'utf8')).toBe('to-stderr\n')
    expect(existsSync(PWNED)).toBe(false)
    expect(parseCronCommand(command)).toEqual({ argv: [bin, ...args], errFile })
  })

  test('the watch always gets --interval, and options only when given', () => {
    expect(watchArgs({ name: 'm', baseDir: '/srv', interval: 7, alertEmails: [] })).toEqual(['molt', 'health', 'watch', 'm', '--base-dir', '/srv', '--interval', '7'])
  })

  test.each([
    ['a newline', '/srv/a\nb'],
    ['a carriage return', '/srv/a\rb'],
    ['a NUL', '/srv/a\0b'],
    ['a percent sign (cron turns it into a newline)', '/srv/100%'],
  ])('%s is refused', (_, value) => {
    expect(() => cronCommand(['/bin/clmnt', value], '/srv/x/cron.err')).toThrow(InputError)
    expect(() => cronCommand(['/bin/clmnt'], '/srv/x/cron.err', value)).toThrow(InputError)
    expect(() => cronCommand(['/bin/clmnt'], value)).toThrow(InputError)
  })

  test('a command cron would cut (over 999 characters) is refused', () => {
    const emails = Array.from({ length: 60 }, (_, i) => `someone${i}@example.com`)
    expect(() => cronCommand(['/bin/clmnt', ...emails.flatMap((e) => ['--alert-email', e])], '/x')).toThrow('cron cuts commands at 999')
  })

  test('parseCronCommand refuses what it did not write', () => {
    expect(parseCronCommand('/usr/bin/backup.sh --all')).toBeNull()
    expect(parseCronCommand("'unterminated")).toBeNull()
  })
})

describe('systemd ExecStart quoting', () => {
  test.each<[string, string]>([
    ['/usr/bin/clmnt', '"/usr/bin/clmnt"'],
    ['100%', '"100%%"'],
    ['$HOME', '"$$HOME"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
  ])('%p → %p', (value, quoted) => {
    expect(systemdQuote(value)).toBe(quoted)
  })
})

describe('the clmnt that the schedule starts', () => {
  test('absolute paths: dist/clmnt when built, else bun + src/cli.ts', () => {
    const { argv, kind, warning } = clmntCommand()
    expect(['dist', 'source']).toContain(kind)
    for (const path of argv) expect(path).toStartWith('/')
    if (kind === 'source') expect(argv[1]).toEndWith('/src/cli.ts')
    else expect(argv[0]).toEndWith('/dist/clmnt')
    // a dist/clmnt that is there but older than `health watch` is not used, and that is said
    const dist = join(import.meta.dir, '..', '..', 'dist', 'clmnt')
    if (kind === 'source' && existsSync(dist)) expect(warning).toContain('out of date')
  })
})

describe('setupRequest validates every value before anything happens', () => {
  const ok = { alertEmails: [] as string[] }
  test('defaults', () => {
    expect(setupRequest(ok, '/srv')).toMatchObject({ interval: 5, offset: undefined, alertEmails: [], restart: false, baseDir: '/srv' })
  })

  test('intervals take the one unit style; a bare number is minutes', () => {
    expect(setupRequest({ ...ok, interval: '5m' }, '/srv').interval).toBe(5)
    expect(setupRequest({ ...ok, interval: '2h' }, '/srv').interval).toBe(120)
    expect(setupRequest({ ...ok, interval: '15' }, '/srv').interval).toBe(15)
  })

  test('values pass through, duplicates dropped', () => {
    expect(setupRequest({ ...ok, remind: 'off' }, '/srv').remind).toBe('off')
    const r = setupRequest({ interval: '90', offset: '45', alertEmails: ['a@b.io', 'x.y+z@mail.example.org', 'a@b.io'], consecutiveFailures: '3', remind: '2h', notifyMolt: 'boss', restart: true, timeout: '3000' }, '/srv')
    expect(r).toMatchObject({ interval: 90, offset: 45, alertEmails: ['a@b.io', 'x.y+z@mail.example.org'], consecutiveFailures: 3, remind: '2h', notifyMolt: 'boss', restart: true, timeoutMs: 3000 })
  })

  test.each<[string, Record<string, unknown>, typeof UsageError | typeof InputError]>([
    ['interval 0', { interval: '0' }, UsageError],
    ['interval 1441', { interval: '1441' }, UsageError],
    ['interval 5x', { interval: '5x' }, UsageError],
    ['interval 90s (not whole minutes)', { interval: '90s' }, UsageError],
    ['offset = interval', { interval: '7', offset: '7' }, UsageError],
    ['offset against the default interval', { offset: '5' }, UsageError],
    ['offset -1', { offset: '-1' }, UsageError],
    ['remind 5x', { remind: '5x' }, UsageError],
    ['consecutive failures 0', { consecutiveFailures: '0' }, UsageError],
    ['consecutive failures 65 (the watch takes 1-64)', { consecutiveFailures: '65' }, UsageError],
    ['timeout 0', { timeout: '0' }, UsageError],
    ['notify-molt with a ;', { notifyMolt: 'boss;rm' }, InputError],
    ['notify-molt with $()', { notifyMolt: '$(id)' }, InputError],
  ])('%s is refused', (_, raw, type) => {
    expect(() => setupRequest({ ...ok, ...raw }, '/srv')).toThrow(type)
  })

  test.each([
    'a@b.c;touch /tmp/x',
    '$(id)@example.com',
    '`id`@example.com',
    "o'brien@example.com",
    'a b@example.com',
    'a@example.com\nb@example.com',
    '-x@example.com',
    'a%b@example.com',
    'a@b',
    'a@b..c',
    '@example.com',
    'a@-b.com',
    `${'a'.repeat(65)}@example.com`,
  ])('alert e-mail %p is refused', (email) => {
    expect(() => setupRequest({ alertEmails: [email] }, '/srv')).toThrow(UsageError)
  })

  test('the base dir must be absolute', () => {
    expect(() => setupRequest(ok, 'srv')).toThrow(InputError)
  })
})
