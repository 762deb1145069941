import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, runCli } from '../helpers/cli.ts'
import { buildFleet } from '../helpers/fleet.ts'

/**
 * An operator without root on a host whose molt homes are 0700 and not theirs: clmnt must say
 * "permission denied: … run as root", never guess ("stopped") and never "internal error: EACCES".
 * Runs as `nobody` through runuser, so it needs root; skipped otherwise.
 */
const canSwitch = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0

describe.skipIf(!canSwitch)('as a user who cannot read the molt homes', () => {
  let fleet: Awaited<ReturnType<typeof buildFleet>>
  let archive = ''
  const asNobody = (...args: string[]) => spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args], { encoding: 'utf8', cwd: '/', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 })

  beforeAll(async () => {
    fleet = await buildFleet([{ name: 'alpha', mode: 'healthy' }, { name: 'delta', mode: 'dead' }, { name: 'echo', mode: 'stopped' }])
    chmodSync(fleet.baseDir, 0o755)
    for (const m of fleet.molts) chmodSync(m.home, 0o700)
    const out = join(fleet.baseDir, 'out')
    mkdirSync(out, { mode: 0o755 })
    expect((await runCli(['fleet', 'backup', '-d', fleet.baseDir, '-o', `${out}/`, '-q'])).code).toBe(0)
    archive = join(out, readdirSync(out)[0]!)
    chmodSync(archive, 0o644)
  })
  afterAll(() => fleet.cleanup())

  test('molt list: gateways are "unknown", not "stopped", and one line says why', () => {
    const r = asNobody('molt', 'list', '--json', '-d', fleet.baseDir)
    expect(r.status).toBe(0)
    const rows = JSON.parse(r.stdout) as { name: string; gateway: string }[]
    // the demo's gateways run as root in shared homes: nobody cannot tell them apart, so every one is unknown
    expect(rows.map((m) => [m.name, m.gateway])).toEqual([['alpha', 'unknown'], ['delta', 'unknown'], ['echo', 'unknown']])
    const table = asNobody('molt', 'list', '-d', fleet.baseDir)
    expect(table.stdout).not.toContain('stopped')
    expect(table.stderr).toContain('permission denied: 3 molt home(s) cannot be read as this user, so their gateways show as unknown: run as root')
  })

  test('health check: unknown with the reason, not stopped', () => {
    const r = asNobody('molt', 'health', 'check', 'echo', '--json', '--no-record', '-d', fleet.baseDir)
    expect(JSON.parse(r.stdout)).toMatchObject({ molt: 'echo', status: 'unknown', reason: 'permission denied: cannot read gateway.pid in a home of another user: run as root' })
  })

  test('no "internal error": history and restore say permission denied, exit 1', () => {
    const history = asNobody('molt', 'health', 'history', 'alpha', '-d', fleet.baseDir)
    expect(history.stderr).not.toContain('internal error')
    expect(history.stderr).toMatch(/^error permission denied: .*: run as root \(sudo\)$/m)
    expect(history.status).toBe(1)
    const restore = asNobody('fleet', 'restore', '--from', archive, '-d', fleet.baseDir, '--yes', '--force', '--skip-users', '--skip-cron')
    expect(restore.stderr).not.toContain('internal error')
    expect(restore.stderr).toContain(`error permission denied: cannot take the fleet lock ${join(fleet.baseDir, '.clmnt-fleet.lock')}: run as root`)
    expect(restore.status).not.toBe(0)
  })
})
