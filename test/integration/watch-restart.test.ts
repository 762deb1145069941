import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { historyFile, pidFile, watchLogFile, watchStateFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, freePort, writeMoltHome } from '../helpers/fleet.ts'

// --restart: the restart command brings a real (fake) gateway back, as the molt's user when root.
const GATEWAY = join(import.meta.dir, '..', '..', 'src', 'demo', 'openclaw-fake-gateway.ts')
let fleet: Awaited<ReturnType<typeof buildFleet>>
let scripts: string
const home = (name: string) => join(fleet.baseDir, name)
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'))
const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trimEnd().split('\n').filter(Boolean) : [])
const watch = (name: string, ...args: string[]) => runCli(['molt', 'health', 'watch', name, '-d', fleet.baseDir, '--timeout', '2000', '--consecutive-failures', '1', '--json', ...args])

/** Kill what a restart script started (its PID is in gateway.pid). */
function stopGateway(name: string): void {
  try {
    process.kill(Number(readFileSync(pidFile(home(name)), 'utf8')), 'SIGKILL')
  } catch {}
}

/** The last restart was long enough ago for the next one (instead of waiting 5 minutes). */
function sixMinutesLater(name: string): void {
  const state = readJson(watchStateFile(home(name)))
  state.last_restart_at = new Date(Date.now() - 6 * 60_000).toISOString()
  writeFileSync(watchStateFile(home(name)), JSON.stringify(state))
}

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'echo', mode: 'stopped' },
    { name: 'delta', mode: 'dead' },
    { name: 'bravo', mode: 'error' },
  ])
  // readable by a molt user too (the runuser case): the scripts and the fleet folder
  chmodSync(fleet.baseDir, 0o755)
  scripts = join(fleet.baseDir, 'scripts')
  mkdirSync(scripts, { mode: 0o755 })
  // what `openclaw gateway restart` does, in small: start the gateway detached, write its PID file
  writeFileSync(join(scripts, 'restart-ok.sh'), [
    '#!/bin/sh',
    'echo "restart $(id -un)" >> "$MOLT_HOME/restarts.txt"',
    'cd "$MOLT_HOME" || exit 1',
    // a molt user's passwd home is its molt home; the throwaway `nobody` has /nonexistent there,
    // and the gateway keeps its lock under $HOME/.openclaw
    'export HOME="$MOLT_HOME"',
    `setsid ${process.execPath} ${GATEWAY} --mode healthy --port "$MOLT_PORT" </dev/null >/dev/null 2>&1 &`,
    'echo $! > "$MOLT_HOME/.openclaw/gateway.pid"',
    'echo "started gateway $!"',
    '',
  ].join('\n'), { mode: 0o755 })
  writeFileSync(join(scripts, 'restart-fails.sh'), '#!/bin/sh\necho "restart $(id -un)" >> "$MOLT_HOME/restarts.txt"\necho "no such service" >&2\nexit 3\n', { mode: 0o755 })
})
afterAll(() => {
  for (const name of ['echo', 'kilo']) stopGateway(name)
  fleet.cleanup()
})

test('a stopped molt is restarted and checked again: healthy, one RECOVERED, the restart in history and log', async () => {
  try {
    const result = await watch('echo', '--restart', '--restart-cmd', join(scripts, 'restart-ok.sh'))
    expect(result.code).toBe(0)
    const run = JSON.parse(result.stdout)
    expect(run).toMatchObject({ phase: 'up', restart: { attempt: 1, exit_code: 0, error: null, result: 'healthy', output: expect.stringContaining('started gateway') } })
    expect(run.record.status).toBe('healthy')
    expect(run.notices.map((n: { kind: string }) => n.kind)).toEqual(['recovered'])
    expect(result.stderr).toContain('Automatic restart 1 of 3 at ')
    expect(result.stderr).toContain('No DOWN alert went out: the molt was back before one was sent.')
    const history = lines(historyFile(home('echo'))).map((l) => JSON.parse(l))
    expect(history.map((h) => h.status)).toEqual(['stopped', 'healthy'])
    expect(history[0].restart).toBeUndefined()
    expect(history[1].restart).toEqual({ attempt: 1, command: join(scripts, 'restart-ok.sh'), user: null, exit_code: 0, signal: null, error: null, duration_ms: expect.any(Number) })
    expect(lines(watchLogFile(home('echo')))[0]).toContain(`restart 1/3: ${join(scripts, 'restart-ok.sh')} exit 0, then healthy`)
    expect(lines(join(home('echo'), 'restarts.txt'))).toEqual(['restart root'])
    // the gateway outlives the watch run that started it
    expect(JSON.parse((await watch('echo')).stdout).record.status).toBe('healthy')
  } finally {
    stopGateway('echo')
  }
})

test('at most one attempt per 5 minutes, 3 per incident, then "recovery failed after 3 attempts"', async () => {
  const args = ['--restart', '--restart-cmd', join(scripts, 'restart-fails.sh')]
  const attempts: (number | null)[] = []
  const outputs: string[] = []
  for (let run = 0; run < 6; run++) {
    const result = await watch('delta', ...args)
    expect(result.code).toBe(0)
    attempts.push(JSON.parse(result.stdout).restart?.attempt ?? null)
    outputs.push(result.stderr)
    // every other run comes "six minutes later"
    if (run % 2 === 1) sixMinutesLater('delta')
  }
  expect(attempts).toEqual([1, null, 2, null, 3, null])
  expect(lines(join(home('delta'), 'restarts.txt'))).toHaveLength(3)
  expect(outputs[0]).toStartWith('[Claw Mountain] molt delta is DOWN (dead)')
  expect(outputs[0]).toContain('Automatic restart 1 of 3 at ')
  expect(outputs[0]).toContain('(exit 3); the check after it still found it dead.')
  expect(outputs[4]).toStartWith('[Claw Mountain] molt delta is DOWN (dead): recovery failed after 3 attempts')
  expect(outputs[4]).toContain('Recovery failed after 3 attempts.')
  expect(outputs[4]).toContain(join(home('delta'), '.molt-state', 'restart.log'))
  expect(readFileSync(join(home('delta'), '.molt-state', 'restart.log'), 'utf8')).toContain('no such service')
  const state = readJson(watchStateFile(home('delta')))
  expect(state.incident.restarts.map((r: { attempt: number; exit_code: number }) => [r.attempt, r.exit_code])).toEqual([[1, 3], [2, 3], [3, 3]])
  sixMinutesLater('delta')
  expect(JSON.parse((await watch('delta', ...args)).stdout).restart).toBeUndefined()
})

test('a command that exits 0 but brings nothing back: waited for (restart_verify_seconds), then said', async () => {
  writeFileSync(join(scripts, 'restart-noop.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  writeFileSync(join(fleet.baseDir, 'clmnt.json'), JSON.stringify({ restart: true, restart_cmd: join(scripts, 'restart-noop.sh'), restart_verify_seconds: 1 }))
  try {
    rmSync(join(home('delta'), '.molt-state'), { recursive: true, force: true })
    const result = await watch('delta')
    expect(JSON.parse(result.stdout).restart).toMatchObject({ attempt: 1, exit_code: 0, result: 'dead' })
    expect(result.stderr).toContain('(exit 0); the check after it still found it dead: the command restarted nothing')
  } finally {
    rmSync(join(fleet.baseDir, 'clmnt.json'))
  }
})

test('unhealthy is restarted only with --restart-unhealthy', async () => {
  const script = join(scripts, 'restart-fails.sh')
  expect(JSON.parse((await watch('bravo', '--restart', '--restart-cmd', script)).stdout).restart).toBeUndefined()
  rmSync(join(home('bravo'), '.molt-state'), { recursive: true })
  expect(JSON.parse((await watch('bravo', '--restart-unhealthy', '--restart-cmd', script)).stdout).restart).toMatchObject({ attempt: 1, result: 'unhealthy' })
})

describe.skipIf(process.getuid?.() !== 0)('as root', () => {
  test("the command runs as the molt's user (runuser), and the gateway it starts counts as the molt's", async () => {
    const kilo = home('kilo')
    writeMoltHome(kilo, { name: 'kilo', port: 1 })
    const port = await freePort()
    writeFileSync(join(kilo, '.molt-info'), `MOLT_NAME=kilo\nMOLT_PORT=${port}\n`)
    for (const path of [kilo, join(kilo, '.openclaw'), join(kilo, '.molt-info')]) chownSync(path, 65534, 65534)
    try {
      const result = await watch('kilo', '--restart', '--restart-cmd', join(scripts, 'restart-ok.sh'))
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout).restart).toMatchObject({ user: 'nobody', exit_code: 0, result: 'healthy' })
      expect(lines(join(kilo, 'restarts.txt'))).toEqual(['restart nobody'])
    } finally {
      stopGateway('kilo')
    }
  })
})
