import { describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pkg from '../../package.json'
import { ENVIRONMENT, MOLT_FILE_VARIABLES } from '../../src/lib/environment.ts'
import { CLI, runCli } from '../helpers/cli.ts'

// What operators expect of a CLI from gh, kubectl, restic: bare command = help, help/version
// commands, suggestions for typos, and one list of the environment variables.

test('`clmnt` alone prints the help on stdout and exits 0', async () => {
  const r = await runCli([])
  expect(r.code).toBe(0)
  expect(r.stderr).toBe('')
  expect(r.stdout).toContain('Usage: clmnt <command>')
  for (const command of ['molt', 'fleet', 'self', 'help', 'version']) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
})

test('`clmnt help <command…>` is `<command…> --help`; `clmnt help` is the top help', async () => {
  for (const [words, usage] of [[['molt', 'health', 'check'], 'Usage: clmnt molt health check [options] [name]'], [['fleet'], 'Usage: clmnt fleet <command>'], [[], 'Usage: clmnt <command>']] as const) {
    const viaHelp = await runCli(['help', ...words])
    const viaFlag = await runCli([...words, '--help'])
    expect(viaHelp.code).toBe(0)
    expect(viaHelp.stdout).toContain(usage)
    expect(viaHelp.stdout).toBe(viaFlag.stdout)
  }
  const bad = await runCli(['help', 'bogus'])
  expect(bad.code).toBe(2)
  expect(bad.stderr).toContain('unknown command "bogus"')
}, 60_000)

test('`clmnt version` names the version, the commit, Bun and the platform; --json has the same', async () => {
  const r = await runCli(['version'])
  expect(r.code).toBe(0)
  expect(r.stdout).toStartWith(`clmnt ${pkg.version}\n`)
  expect(r.stdout).toMatch(/^ {2}commit {4}[0-9a-f]{12}\+?$/m)
  expect(r.stdout).toContain(`  bun       ${Bun.version}\n`)
  const json = JSON.parse((await runCli(['version', '--json'])).stdout)
  expect(json).toMatchObject({ version: pkg.version, bun: Bun.version, platform: `${process.platform}-${process.arch}`, build: 'source' })
  expect(json.commit).toMatch(/^[0-9a-f]{12}\+?$/)
  // --version stays one line: scripts and doctor parse it
  expect((await runCli(['--version'])).stdout).toBe(`clmnt ${pkg.version}\n`)
})

describe('did you mean', () => {
  test.each([
    [['molt', 'helth'], "did you mean 'clmnt molt health'?"],
    [['fleet', 'bakup'], "did you mean 'clmnt fleet backup'?"],
    [['fleet', 'list'], "did you mean 'clmnt fleet list-backups'?"],
    [['dashbaord'], "did you mean 'clmnt dashboard'?"],
    [['molt', 'list', '--jsn'], 'did you mean --json?'],
    [['molt', 'health', 'check', 'x', '--timout', '5s'], 'did you mean --timeout?'],
  ])('%p', async (argv, hint) => {
    const r = await runCli(argv)
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toEndWith(hint)
  })
  test('nothing close: the list of commands instead', async () => {
    const r = await runCli(['zzzzzz'])
    expect(r.stderr).toContain('unknown command "zzzzzz"; available: molt, fleet,')
    expect(r.stderr).not.toContain('did you mean')
  })
})

test('`clmnt help environment` lists every variable the source reads', async () => {
  const r = await runCli(['help', 'environment'])
  expect(r.code).toBe(0)
  const listed = ENVIRONMENT.flatMap((v) => v.names)
  for (const name of listed) expect(r.stdout).toContain(name)
  // every `env.X`, `process.env.X` and pick('X', …) in src/ must be in the list (or be a molt file's key)
  const root = join(import.meta.dir, '..', '..', 'src')
  const read = new Set<string>()
  // src/demo is the demo's stand-in gateway, not clmnt: what it reads is OpenClaw's business
  for (const file of readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.ts') && !f.startsWith('demo/'))) {
    const text = readFileSync(join(root, file), 'utf8')
    for (const m of text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!)
    for (const m of text.matchAll(/\bpick\(([^)]*)\)/g)) for (const n of m[1]!.matchAll(/'([A-Z][A-Z0-9_]+)'/g)) read.add(n[1]!)
  }
  expect(read.size).toBeGreaterThan(10)
  expect([...read].filter((name) => !listed.includes(name) && !MOLT_FILE_VARIABLES.includes(name)).sort()).toEqual([])
})

test('a reader that left (`clmnt … | head -1`) ends the run quietly, exit 0; colours only on a terminal', () => {
  // the reader is gone before clmnt writes: its write fails with EPIPE
  const gone = spawnSync('bash', ['-c', `set -o pipefail; (sleep 0.3; exec '${process.execPath}' '${CLI}' --help) | true`], { encoding: 'utf8', timeout: 20_000 })
  expect(gone.stderr).toBe('')
  expect(gone.status).toBe(0)
  // stdout and stderr are asked whether they are terminals without being made (lib/stdio.ts)
  const error = ['fleet', 'restore', '--from', '/nonexistent.tar.gz']
  const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm' }
  const onTerminal = spawnSync('script', ['-qec', [process.execPath, CLI, ...error].map((w) => `'${w}'`).join(' '), '/dev/null'], { encoding: 'utf8', env, timeout: 20_000 })
  expect(onTerminal.stdout).toContain('\x1b[31merror\x1b[39m')
  const piped = spawnSync(process.execPath, [CLI, ...error], { encoding: 'utf8', env, timeout: 20_000 })
  expect(piped.status).toBe(2)
  expect(piped.stderr).toStartWith('error ')
}, 60_000)
