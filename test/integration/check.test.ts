import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { historyFile, pidFile, stateDir, statusFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, LEGACY_STATUS, startGateway, writeMoltHome, writeState } from '../helpers/fleet.ts'

// One fleet with every state of DESIGN.md's table, each backed by a real process (or its absence).
let fleet: Awaited<ReturnType<typeof buildFleet>>
const home = (name: string) => join(fleet.baseDir, name)
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'))
const historyLines = (name: string) => readFileSync(historyFile(home(name)), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l))

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'error' },
    { name: 'charlie', mode: 'hang' },
    { name: 'delta', mode: 'dead', pidFile: true },
    { name: 'echo', mode: 'stopped' },
    { name: 'foxtrot', mode: 'refuse' },
  ])
})
afterAll(() => fleet.cleanup())

// no start-up grace: these gateways have just started, and this table is about what is not starting (check-readiness.test.ts is)
const check = (...args: string[]) => runCli(['molt', 'health', 'check', ...args, '-d', fleet.baseDir, '--timeout', '1000', '--startup-grace', '0'])

describe('one check per molt, exit code and files as the state table says', () => {
  test.each([
    ['alpha', 0, 'healthy', 200, 'alpha: healthy (HTTP 200 in'],
    ['bravo', 1, 'unhealthy', 500, 'bravo: unhealthy (HTTP 500)'],
    ['charlie', 1, 'unhealthy', null, 'charlie: unhealthy (no answer within 1000 ms)'],
    ['delta', 1, 'dead', null, 'delta: dead (PID'],
    ['echo', 1, 'stopped', null, 'echo: stopped (no gateway lock, no gateway.pid and no gateway process)'],
    ['foxtrot', 1, 'unhealthy', null, 'foxtrot: unhealthy (connection refused)'],
  ])('%s', async (name, code, status, httpStatus, line) => {
    const result = await check(name)
    expect(result.code).toBe(code)
    expect(result.stdout).toStartWith(line)
    expect(result.stderr).toBe('')
    const molt = fleet.molts.find((m) => m.name === name)!
    const record = readJson(statusFile(home(name)))
    expect(record).toMatchObject({ molt: name, status, port: molt.port, http_status: httpStatus })
    expect(typeof record.timestamp).toBe('string')
    expect(record.pid).toBe(status === 'stopped' ? null : molt.pid)
    if (status === 'healthy') expect(record.response_time_ms).toBeNumber()
    else expect(record.reason).toBeString()
    const last = historyLines(name).at(-1)
    expect(last).toEqual({ ...record, molt: undefined })
  })
})

test('--json prints exactly the record', async () => {
  const result = await check('alpha', '--json')
  expect(result.code).toBe(0)
  const record = JSON.parse(result.stdout)
  expect(record).toEqual(readJson(statusFile(home('alpha'))))
  expect(Object.keys(record)).toEqual(['timestamp', 'molt', 'status', 'pid', 'port', 'http_status', 'response_time_ms', 'reason'])
})

test('--all checks every molt concurrently: a table, or a JSON array; exit 1 when any is not healthy', async () => {
  const table = await check('--all')
  expect(table.code).toBe(1)
  const rows = table.stdout.trim().split('\n')
  expect(rows[0]).toMatch(/^MOLT\s+STATUS\s+PORT\s+PID\s+HTTP\s+TIME\s+REASON$/)
  expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 2))).toEqual([
    ['alpha', 'healthy'],
    ['bravo', 'unhealthy'],
    ['charlie', 'unhealthy'],
    ['delta', 'dead'],
    ['echo', 'stopped'],
    ['foxtrot', 'unhealthy'],
  ])
  const json = await check('--all', '--json')
  expect(JSON.parse(json.stdout).map((r: { status: string }) => r.status)).toEqual(['healthy', 'unhealthy', 'unhealthy', 'dead', 'stopped', 'unhealthy'])
})

test('each check appends exactly one history line', async () => {
  const before = historyLines('alpha').length
  await check('alpha')
  await check('alpha')
  expect(historyLines('alpha')).toHaveLength(before + 2)
})

test('--no-record probes but writes nothing', async () => {
  const result = await check('echo', '--no-record')
  const fresh = join(fleet.baseDir, 'golf')
  writeMoltHome(fresh, { name: 'golf', port: 1 })
  await check('golf', '--no-record')
  expect(result.code).toBe(1)
  expect(existsSync(stateDir(fresh))).toBe(false)
})

test('a check is read-only towards the molt: a stale PID file stays', async () => {
  await check('delta')
  expect(existsSync(pidFile(home('delta')))).toBe(true)
})

test('a running gateway whose port cannot be determined is unknown', async () => {
  const dir = join(fleet.baseDir, 'hotel')
  mkdirSync(join(dir, '.openclaw'), { recursive: true })
  const gateway = await startGateway('healthy', dir)
  try {
    writeFileSync(join(dir, '.molt-info'), 'MOLT_NAME=hotel\nMOLT_PORT=not-a-port\n')
    writeFileSync(join(dir, '.openclaw', 'gateway.pid'), `${gateway.child.pid}\n`, { flag: 'w' })
    const result = await check('hotel', '--json')
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'unknown', pid: gateway.child.pid, port: null })
    expect(result.stderr).toContain('MOLT_PORT "not-a-port" is not a port number')
  } finally {
    gateway.child.kill('SIGKILL')
  }
})

test('a legacy status file is replaced by a clean one', async () => {
  writeState(home('echo'), 'health-status.json', LEGACY_STATUS)
  await check('echo')
  const record = readJson(statusFile(home('echo')))
  expect(record.status).toBe('stopped')
  expect(record.last_check).toBeUndefined()
})

// Ownership can only be given away by root; as another user there is nothing to test.
test.skipIf(process.getuid?.() !== 0)('as root, files created in a molt home belong to the molt user', async () => {
  const dir = join(fleet.baseDir, 'india')
  writeMoltHome(dir, { name: 'india', port: 1 })
  chownSync(dir, 4242, 4243)
  await check('india')
  for (const path of [stateDir(dir), statusFile(dir), historyFile(dir)]) {
    const st = statSync(path)
    expect([st.uid, st.gid]).toEqual([4242, 4243])
  }
})
