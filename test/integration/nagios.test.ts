import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { statusFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, startGateway } from '../helpers/fleet.ts'

// `molt health check --format nagios` as Nagios/Icinga run it: one line on stdout, the plugin exit code.
let fleet: Awaited<ReturnType<typeof buildFleet>>

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'error' },
    { name: 'charlie', mode: 'hang' },
    { name: 'delta', mode: 'dead', pidFile: true },
    { name: 'echo', mode: 'stopped' },
  ])
})
afterAll(() => fleet.cleanup())

const nagios = (...args: string[]) => runCli(['molt', 'health', 'check', '--timeout', '1000', ...args, '--format', 'nagios', '-d', fleet.baseDir])

describe('one molt: one line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN', () => {
  test.each([
    ['alpha', 0, /^CLMNT OK - alpha healthy, [\d.]+ ms \| 'response_time'=[\d.]+s;;;0\n$/],
    ['bravo', 1, /^CLMNT WARNING - bravo unhealthy, HTTP 500 \| 'response_time'=[\d.]+s;;;0\n$/],
    ['charlie', 1, /^CLMNT WARNING - charlie unhealthy, no answer within 1000 ms\n$/],
    ['delta', 2, /^CLMNT CRITICAL - delta dead, PID \d+ from gateway\.pid is not running\n$/],
    ['echo', 2, /^CLMNT CRITICAL - echo stopped, no gateway lock, no gateway\.pid and no gateway process\n$/],
  ])('%s', async (name, code, line) => {
    const result = await nagios(name)
    expect(result.stdout).toMatch(line)
    expect(result.code).toBe(code)
    expect(result.stderr).toBe('')
  })

  test('the perfdata is the response time in seconds, as the status file recorded it', async () => {
    const result = await nagios('alpha')
    const ms = JSON.parse(readFileSync(statusFile(join(fleet.baseDir, 'alpha')), 'utf8')).response_time_ms as number
    expect(result.stdout).toContain(`'response_time'=${Number((ms / 1000).toFixed(4))}s;;;0`)
  })

  test('a running gateway whose port cannot be determined: UNKNOWN', async () => {
    const dir = join(fleet.baseDir, 'hotel')
    mkdirSync(join(dir, '.openclaw'), { recursive: true })
    const gateway = await startGateway('healthy', dir)
    try {
      writeFileSync(join(dir, '.molt-info'), 'MOLT_NAME=hotel\nMOLT_PORT=not-a-port\n')
      writeFileSync(join(dir, '.openclaw', 'gateway.pid'), `${gateway.child.pid}\n`)
      const result = await nagios('hotel')
      expect(result.stdout).toBe('CLMNT UNKNOWN - hotel unknown, port unknown (.molt-info MOLT_PORT, openclaw.json, molts.json)\n')
      expect(result.code).toBe(3)
      // the discovery warning goes to stderr, where Nagios does not look
      expect(result.stderr).toContain('MOLT_PORT "not-a-port" is not a port number')
    } finally {
      gateway.child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('could not check at all: UNKNOWN (3), still one line', () => {
  test.each([
    [['nosuchmolt'], 'CLMNT UNKNOWN - unknown molt "nosuchmolt"'],
    [['../etc'], 'CLMNT UNKNOWN - invalid molt name'],
    [['alpha', '--timeout', 'abc'], 'CLMNT UNKNOWN - invalid value "abc" for --timeout'],
    [['alpha', '--json'], 'CLMNT UNKNOWN - --json and --format nagios exclude each other'],
    [[], 'CLMNT UNKNOWN - missing molt name (or --all)'],
  ])('%p', async (args, start) => {
    const result = await nagios(...args)
    expect(result.stdout).toStartWith(start)
    expect(result.stdout.split('\n')).toHaveLength(2)
    expect(result.code).toBe(3)
  })
})

test('--all: the worst state, every molt in the text and the perfdata', async () => {
  const result = await runCli(['molt', 'health', 'check', '--all', '--format', 'nagios', '-d', fleet.baseDir, '--timeout', '1000'])
  expect(result.code).toBe(2)
  expect(result.stdout).toStartWith('CLMNT CRITICAL - 1/')
  expect(result.stdout).toContain("'healthy'=1;;;0;")
  expect(result.stdout).toMatch(/'alpha_response_time'=[\d.]+s;;;0/)
})

test('without --format nagios the exit codes are as before: 0 healthy, 1 anything else', async () => {
  const codes = await Promise.all(['alpha', 'bravo', 'delta', 'echo'].map(async (name) => (await runCli(['molt', 'health', 'check', name, '-d', fleet.baseDir])).code))
  expect(codes).toEqual([0, 1, 1, 1])
  const unknown = await runCli(['molt', 'health', 'check', 'nosuchmolt', '-d', fleet.baseDir])
  expect(unknown.code).toBe(2)
  const bad = await runCli(['molt', 'health', 'check', 'alpha', '--format', 'xml', '-d', fleet.baseDir])
  expect(bad.code).toBe(2)
  expect(bad.stderr).toContain('invalid value "xml" for --format: expected one of text, nagios')
})

test.each([
  [['alpha', '--bogus'], 'CLMNT UNKNOWN - unknown option "--bogus"'],
  [['alpha', '--timeout', 'abc'], 'CLMNT UNKNOWN - invalid value "abc" for --timeout'],
  [['alpha', 'extra'], 'CLMNT UNKNOWN - unexpected argument "extra"'],
])('a bad command line with --format nagios is UNKNOWN (exit 3), not CRITICAL: %p', async (args, line) => {
  const result = await nagios(...args)
  expect(result.code).toBe(3)
  expect(result.stdout).toStartWith(line)
})

test('without --format nagios a bad command line stays exit 2', async () => {
  const result = await runCli(['molt', 'health', 'check', 'alpha', '--bogus', '-d', fleet.baseDir])
  expect(result).toMatchObject({ code: 2, stdout: '' })
})
