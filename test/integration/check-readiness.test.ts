import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { statusFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet } from '../helpers/fleet.ts'

// several CLI runs per test on a loaded 2-core machine
setDefaultTimeout(60_000)

// Readiness, the start-up grace and frozen processes, against stand-ins that answer like OpenClaw
// 2026.9 (/health, /readyz with its failing list, the lock file); test/integration/openclaw/ has the real one.
let fleet: Awaited<ReturnType<typeof buildFleet>>
const home = (name: string) => join(fleet.baseDir, name)
const check = (...args: string[]) => runCli(['molt', 'health', 'check', ...args, '-d', fleet.baseDir, '--timeout', '2000'])
const status = (name: string) => JSON.parse(readFileSync(statusFile(home(name)), 'utf8'))

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'not-ready' },
    { name: 'charlie', mode: 'starting' },
    { name: 'delta', mode: 'refuse' },
    { name: 'echo', mode: 'hang' },
    { name: 'foxtrot', mode: 'healthy' },
    { name: 'golf', mode: 'healthy', pidFile: true },
    { name: 'hotel', mode: 'dead', pidFile: true },
    { name: 'india', mode: 'dead' },
  ])
})
afterAll(() => fleet.cleanup())

describe('live and ready is healthy; live but not ready says what fails', () => {
  test.each([
    ['alpha', 0, 'healthy', 200, /^alpha: healthy \(HTTP 200 in /],
    ['bravo', 1, 'unhealthy', 503, /^bravo: unhealthy \(live but not ready \(failing: agent-database:main\)\)$/],
    ['charlie', 1, 'unhealthy', 503, /^charlie: unhealthy \(live but not ready \(failing: startup-sidecars\)\)$/],
    ['delta', 1, 'unhealthy', null, /^delta: unhealthy \(connection refused\)$/],
  ])('after the grace: %s', async (name, code, state, http, line) => {
    const result = await check(name, '--startup-grace', '0')
    expect(result.stdout.trim()).toMatch(line)
    expect(result.code).toBe(code)
    expect(status(name)).toMatchObject({ status: state, http_status: http, pid: fleet.molts.find((m) => m.name === name)!.pid })
  })

  test.each([
    ['bravo', /^bravo: starting \(up \d+s of 2m grace, not ready \(failing: agent-database:main\)\)$/],
    ['charlie', /^charlie: starting \(up \d+s of 2m grace, not ready \(failing: startup-sidecars\)\)$/],
    ['delta', /^delta: starting \(up \d+s of 2m grace, not listening yet\)$/],
  ])('within the grace (default 2 min), %s is starting: not a failure', async (name, line) => {
    const result = await check(name)
    expect(result.stdout.trim()).toMatch(line)
    expect(result.code).toBe(0)
    expect(status(name).status).toBe('starting')
  })

  test('a gateway that takes no answer in time is unhealthy even while young: it listens, and hangs', async () => {
    const result = await check('echo')
    expect(result.stdout.trim()).toBe('echo: unhealthy (no answer within 2000 ms)')
    expect(result.code).toBe(1)
  })

  test('the grace comes from clmnt.json when no flag gives it; a bad value is a usage error', async () => {
    const config = join(fleet.baseDir, 'clmnt.json')
    await Bun.write(config, JSON.stringify({ startup_grace: '1s' }))
    try {
      await Bun.sleep(1100)
      expect((await check('charlie')).stdout).toStartWith('charlie: unhealthy (live but not ready')
      expect((await check('charlie', '--startup-grace', '10m')).stdout).toStartWith('charlie: starting (')
      const bad = await check('charlie', '--startup-grace', 'soon')
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('invalid value "soon" for --startup-grace')
    } finally {
      await Bun.file(config).delete()
    }
  })

  test('--all: starting molts do not make the exit code 1 by themselves', async () => {
    const result = await check('--all', '--json')
    const by = Object.fromEntries(JSON.parse(result.stdout).map((r: { molt: string; status: string }) => [r.molt, r.status]))
    expect(by).toMatchObject({ alpha: 'healthy', bravo: 'starting', charlie: 'starting', delta: 'starting', echo: 'unhealthy' })
    expect(result.code).toBe(1) // echo, hotel, india
  })
})

describe('where the PID comes from', () => {
  test("the gateway's lock (no gateway.pid), or gateway.pid on a bash-toolkit host", async () => {
    for (const name of ['alpha', 'golf']) {
      const result = await check(name, '--json')
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'healthy', pid: fleet.molts.find((m) => m.name === name)!.pid })
    }
  })

  test('a killed gateway: its lock, or its gateway.pid, names a PID that is gone → dead', async () => {
    const fromLock = await check('india')
    expect(fromLock.stdout).toMatch(/^india: dead \(PID \d+ from the gateway lock \.openclaw\/tmp\/openclaw-\d+\/gateway\.0badf00d\.lock is not running \(the gateway crashed or was killed\)\)/)
    const fromPidFile = await check('hotel')
    expect(fromPidFile.stdout).toMatch(/^hotel: dead \(PID \d+ from gateway\.pid is not running\)/)
    // a check changes nothing in the molt: the stale lock stays for the gateway to reclaim
    expect(readdirSync(join(home('india'), '.openclaw', 'tmp', `openclaw-${process.getuid!()}`))).toEqual(['gateway.0badf00d.lock'])
  })
})

test('a frozen gateway (SIGSTOP) is unhealthy at once, without waiting for the timeout; SIGCONT brings it back', async () => {
  const pid = fleet.molts.find((m) => m.name === 'foxtrot')!.pid!
  process.kill(pid, 'SIGSTOP')
  try {
    const result = await check('foxtrot', '--timeout', '60000')
    expect(result.stdout.trim()).toBe(`foxtrot: unhealthy (process ${pid} is frozen (stopped by a signal such as SIGSTOP): it cannot answer)`)
    expect(result.code).toBe(1)
  } finally {
    process.kill(pid, 'SIGCONT')
  }
  expect((await check('foxtrot')).code).toBe(0)
})
