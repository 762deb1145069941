import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import pkg from '../../package.json'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'
import { readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

let dir: string
beforeAll(() => {
  dir = tempDir()
  writeMoltHome(join(dir, 'mybot'), { name: 'mybot', port: 1 })
})
afterAll(() => removeDir(dir))

describe('help at every level shows the full path, the subcommands and every option with its default', () => {
  test.each([
    [['--help'], 'Usage: clmnt <command>', ['molt']],
    [['molt', '--help'], 'Usage: clmnt molt <command>', ['list', 'health']],
    [['molt', 'health', '-h'], 'Usage: clmnt molt health <command>', ['check', 'status', 'history', 'logs']],
    [['molt', 'health', 'check', '--help'], 'Usage: clmnt molt health check [options] [name]', ['--timeout <duration>', '(default: 5s)', '--no-record', '--all', '--json', '-d, --base-dir <dir>']],
    [['molt', 'health', 'history', '--help'], 'Usage: clmnt molt health history [options] <name>', ['--limit', '(default: 20)']],
    [['molt', 'health', 'logs', '--help'], 'Usage: clmnt molt health logs [options] <name>', ['(default: 50)', '--follow']],
    [['molt', 'list', '--help'], 'Usage: clmnt molt list [options]', ['--json']],
  ])('%p', async (argv, usage, mentions) => {
    const { code, stdout, stderr } = await runCli(argv)
    expect(code).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toContain(usage)
    for (const text of mentions) expect(stdout).toContain(text)
  })
})

test('--version', async () => {
  expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `clmnt ${pkg.version}\n`, stderr: '' })
})

describe('bad usage: one line on stderr + a usage hint, exit 2, no stack trace', () => {
  test.each([
    [['bogus'], 'clmnt: unknown command "bogus"', "Run 'clmnt --help'"],
    [['molt', 'health', 'bogus'], 'clmnt molt health: unknown command "bogus"', "Run 'clmnt molt health --help'"],
    [['molt', 'list', '--bogus'], 'clmnt molt list: unknown option "--bogus"', "Run 'clmnt molt list --help'"],
    [['molt', 'list', 'extra'], 'unexpected argument "extra"', 'for usage'],
    [['molt', 'health', 'check', 'mybot', 'other'], 'unexpected argument "other"', 'for usage'],
    [['molt', 'health', 'check', 'mybot', '--timeout', '-1'], 'invalid value "-1" for --timeout', 'for usage'],
    [['molt', 'health', 'check', 'mybot', '--timeout', 'abc'], 'invalid value "abc" for --timeout', 'for usage'],
    [['molt', 'health', 'check', 'mybot', '--timeout', '0'], 'invalid value "0" for --timeout', 'for usage'],
    [['molt', 'health', 'history', 'mybot', '--limit', 'abc'], 'invalid value "abc" for --limit', 'for usage'],
    [['molt', 'health', 'check'], 'missing molt name (or --all)', 'for usage'],
    [['molt', 'health', 'check', 'mybot', '--all'], 'not both', 'for usage'],
    [['molt', 'health', 'check', '--timeout'], 'option --timeout needs a value', 'for usage'],
    [['molt'], 'missing command', 'for usage'],
  ])('%p', async (argv, message, hint) => {
    const { code, stdout, stderr } = await runCli([...argv, '-d', dir])
    expect(code).toBe(2)
    if (argv.length > 1) expect(stdout).toBe('')
    const errorLines = stderr.split('\n').filter((l) => l.startsWith('error '))
    expect(errorLines).toHaveLength(1)
    expect(errorLines[0]).toContain(message)
    expect(stderr).toContain(hint)
    expect(stderr).not.toMatch(/\n\s+at /)
  })
})

describe('hostile molt names are refused before anything is touched', () => {
  const names = ['..', '../x', 'a/b', 'a;b', 'a;rm -rf /', '$(id)', '`id`', '', 'a'.repeat(33), 'MyBot']
  // every path under the temp root with its mtime: a refused command must leave all of it as it was
  const snapshot = () => {
    const root = join(dir, '..')
    return readdirSync(root, { recursive: true })
      .map(String)
      .filter((p) => p.startsWith(basename(dir)))
      .sort()
      .map((p) => `${p} ${statSync(join(root, p)).mtimeMs}`)
  }
  test.each(names)('%p', async (name) => {
    const before = snapshot()
    for (const command of [['molt', 'health', 'check', name], ['molt', 'health', 'status', name], ['molt', 'health', 'history', name, '--prune', '1d'], ['molt', 'health', 'logs', name]]) {
      const { code, stderr } = await runCli([...command, '-d', dir])
      expect(code).toBe(2)
      expect(stderr).toMatch(/invalid molt name|missing molt name|missing argument/)
    }
    expect(snapshot()).toEqual(before)
  })
})

test('colour only where asked for: --no-color and NO_COLOR win over FORCE_COLOR', async () => {
  const args = ['molt', 'health', 'check', 'mybot', '-d', dir]
  expect((await runCli(args, { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } })).stdout).toContain('\x1b[31mstopped')
  expect((await runCli([...args, '--no-color'], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } })).stdout).not.toContain('\x1b[')
  expect((await runCli(args, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } })).stdout).not.toContain('\x1b[')
  expect((await runCli(args, { env: { NO_COLOR: undefined } })).stdout).not.toContain('\x1b[')
})

test('an unknown molt is exit 2 with a one-line reason', async () => {
  const { code, stderr } = await runCli(['molt', 'health', 'check', 'ghost', '-d', dir])
  expect(code).toBe(2)
  expect(stderr.trim()).toBe(`error unknown molt "ghost": no entry in molts.json and no ${join(dir, 'ghost', '.molt-info')}`)
})

test('-v shows the cause of an error; without it there is none', async () => {
  const missing = join(dir, 'nowhere')
  const quiet = await runCli(['molt', 'list', '-d', missing])
  expect(quiet.code).toBe(2)
  expect(quiet.stderr.trim().split('\n')).toHaveLength(1)
  const verbose = await runCli(['molt', 'list', '-d', missing, '-v'])
  expect(verbose.code).toBe(2)
  expect(verbose.stderr).toContain('is not a directory')
})

test('global flags work before or after the subcommand, and $CLMNT_BASE_DIR is honoured', async () => {
  const before = await runCli(['-d', dir, 'molt', 'list', '--json'])
  const after = await runCli(['molt', 'list', '--json', '--base-dir', dir])
  const env = await runCli(['molt', 'list', '--json'], { env: { CLMNT_BASE_DIR: dir } })
  // age_seconds ticks between the two runs under load: everything else must be equal
  const steady = (stdout: string) => JSON.parse(stdout).map(({ age_seconds: _, ...rest }: Record<string, unknown>) => rest)
  expect(steady(before.stdout)).toEqual(steady(after.stdout))
  expect(JSON.parse(env.stdout)[0].name).toBe('mybot')
})

test('the base dir is found from a sub-folder of the fleet through molts.json', async () => {
  await Bun.write(join(dir, 'molts.json'), JSON.stringify({ version: '1', molts: {} }))
  const { stdout, code } = await runCli(['molt', 'list', '--json'], { cwd: join(dir, 'mybot', '.openclaw') })
  expect(code).toBe(0)
  expect(JSON.parse(stdout).map((m: { name: string }) => m.name)).toEqual(['mybot'])
})
