import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { watchStateFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { startCommander, type FakeCommander } from '../helpers/commander.ts'
import { buildFleet } from '../helpers/fleet.ts'

// --notify-molt: the alert as an agent turn on a commander molt's gateway (a real HTTP server).
let fleet: Awaited<ReturnType<typeof buildFleet>>
let commander: FakeCommander
const home = (name: string) => join(fleet.baseDir, name)
const watch = (...args: string[]) => runCli(['molt', 'health', 'watch', ...args, '-d', fleet.baseDir, '--consecutive-failures', '1', '--notify-molt', 'commander'])

beforeAll(async () => {
  fleet = await buildFleet([{ name: 'delta', mode: 'dead' }])
  commander = startCommander(fleet.baseDir)
})
afterAll(() => {
  commander.stop()
  fleet.cleanup()
})
beforeEach(() => {
  rmSync(join(home('delta'), '.molt-state'), { recursive: true, force: true })
  commander.requests.length = 0
  commander.failWith = null
  commander.token = 'demo-token-commander'
})

test('POST /hooks/agent with the bearer token from openclaw.json, as an isolated agent turn', async () => {
  const result = await watch('delta')
  expect(result).toEqual({ code: 0, stdout: '', stderr: '' })
  expect(commander.requests).toHaveLength(1)
  const [request] = commander.requests
  expect(request).toMatchObject({ method: 'POST', path: '/hooks/agent', authorization: 'Bearer demo-token-commander', contentType: 'application/json' })
  expect(request!.body).toEqual({
    name: 'clmnt health: delta down',
    sessionTarget: 'isolated',
    wakeMode: 'now',
    payload: { kind: 'agentTurn', message: expect.stringMatching(/^\[Claw Mountain\] molt delta is DOWN \(dead\)\n\nMolt delta on /), deliver: false },
  })
  expect((request!.body as { payload: { message: string } }).payload.message).toContain(' molt health status delta')
})

test('a commander that is down is retried next run; a wrong token is permanent', async () => {
  commander.failWith = 503
  const busy = await watch('delta')
  expect(busy.code).toBe(1)
  expect(busy.stderr).toContain('via webhook to commander not delivered, will retry: commander commander answered HTTP 503')
  commander.failWith = null
  expect((await watch('delta')).code).toBe(0)
  expect(commander.requests.map((r) => (r.body as { name: string }).name)).toEqual(['clmnt health: delta down', 'clmnt health: delta down'])

  rmSync(join(home('delta'), '.molt-state'), { recursive: true, force: true })
  commander.token = 'rotated'
  const refused = await watch('delta')
  expect(refused.code).toBe(1)
  expect(refused.stderr).toContain('FAILED for good (not retried): commander commander answered HTTP 401')
  const state = JSON.parse(readFileSync(watchStateFile(home('delta')), 'utf8'))
  expect(state.outbox[0].failed.webhook).toContain('HTTP 401')
})

test('email and webhook together: each channel is delivered once', async () => {
  const result = await runCli(['molt', 'health', 'watch', 'delta', '-d', fleet.baseDir, '--consecutive-failures', '1', '--notify-molt', 'commander', '--alert-email', 'ops@example.org', '--mailer', 'smtp', '--json'], { env: { CLMNT_SMTP_URL: 'smtp://127.0.0.1:1' } })
  expect(result.code).toBe(1)
  expect(JSON.parse(result.stdout).notices[0]).toMatchObject({ delivered: ['webhook'], pending: true })
  expect((await runCli(['molt', 'health', 'watch', 'delta', '-d', fleet.baseDir, '--consecutive-failures', '1', '--notify-molt', 'commander'])).code).toBe(0)
  expect(commander.requests).toHaveLength(1)
})
