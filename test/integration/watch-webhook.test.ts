import { afterAll, beforeAll, beforeEach, expect, test, setDefaultTimeout } from 'bun:test'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { watchStateFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { startCommander, type FakeCommander } from '../helpers/commander.ts'
import { buildFleet, writeConfig } from '../helpers/fleet.ts'

// several CLI runs per test on a loaded 2-core machine
setDefaultTimeout(60_000)

// --notify-molt: the alert as an agent turn through a commander molt's hooks (a real HTTP server
// answering as OpenClaw 2026.9's hooks do); test/integration/openclaw/ sends to the real gateway.
let fleet: Awaited<ReturnType<typeof buildFleet>>
let commander: FakeCommander
const home = (name: string) => join(fleet.baseDir, name)
const watch = (...args: string[]) => runCli(['molt', 'health', 'watch', ...args, '-d', fleet.baseDir, '--consecutive-failures', '1', '--notify-molt', 'commander'])
const configFile = () => join(commander.home, '.openclaw', 'openclaw.json')
const editConfig = (edit: (config: { hooks?: Record<string, unknown> }) => void) => {
  const config = JSON.parse(readFileSync(configFile(), 'utf8'))
  edit(config)
  writeFileSync(configFile(), JSON.stringify(config))
}
let original: string

beforeAll(async () => {
  fleet = await buildFleet([{ name: 'delta', mode: 'dead' }])
  writeConfig(fleet.baseDir)
  commander = startCommander(fleet.baseDir, 'commander', { hooksPath: '/ops-hooks' })
  original = readFileSync(configFile(), 'utf8')
})
afterAll(() => {
  commander.stop()
  fleet.cleanup()
})
beforeEach(() => {
  rmSync(join(home('delta'), '.molt-state'), { recursive: true, force: true })
  commander.requests.length = 0
  commander.hooks.turns.length = 0
  commander.failWith = null
  commander.hooksToken = 'hook-token-commander'
  writeFileSync(configFile(), original)
})

test("POST <hooks.path>/agent with the commander's hooks token, the documented payload and the notice id as Idempotency-Key", async () => {
  const result = await watch('delta')
  expect(result).toEqual({ code: 0, stdout: '', stderr: '' })
  expect(commander.requests).toHaveLength(1)
  const [request] = commander.requests
  const state = JSON.parse(readFileSync(watchStateFile(home('delta')), 'utf8'))
  expect(request).toMatchObject({ method: 'POST', path: '/ops-hooks/agent', authorization: 'Bearer hook-token-commander', contentType: 'application/json' })
  expect(request!.idempotencyKey).toBe(state.incident.down_notice)
  expect(request!.body).toEqual({
    message: expect.stringMatching(/^\[Claw Mountain\] molt delta is DOWN \(dead\)\n\nMolt delta on /),
    name: 'clmnt health: delta down',
    deliver: false,
  })
  expect((request!.body as { message: string }).message).toContain(' molt health status delta')
  expect(commander.hooks.turns).toHaveLength(1)
})

test('a commander that is down is retried next run with the same key; the gateway admits one turn', async () => {
  commander.failWith = 503
  const busy = await watch('delta')
  expect(busy.code).toBe(1)
  expect(busy.stderr).toContain('via webhook to commander not delivered, will retry: commander commander answered HTTP 503')
  commander.failWith = null
  expect((await watch('delta')).code).toBe(0)
  expect(commander.requests.map((r) => r.idempotencyKey)).toEqual([commander.requests[0]!.idempotencyKey, commander.requests[0]!.idempotencyKey])
  // the same body too: OpenClaw replays a key only for the same dispatch fields
  expect(commander.requests[1]!.body).toEqual(commander.requests[0]!.body)
  expect(commander.hooks.turns).toHaveLength(1)
}, 30_000)

test('a wrong hooks token is refused for good (401), and tried again once openclaw.json changes', async () => {
  commander.hooksToken = 'rotated'
  const refused = await watch('delta')
  expect(refused.code).toBe(1)
  expect(refused.stderr).toContain('FAILED for good (not retried): commander commander answered HTTP 401')
  const state = JSON.parse(readFileSync(watchStateFile(home('delta')), 'utf8'))
  expect(state.outbox[0].failed.webhook).toContain('HTTP 401')
  await watch('delta')
  expect(commander.requests).toHaveLength(1) // not retried while nothing changed
  editConfig((c) => (c.hooks!.token = 'rotated'))
  expect((await watch('delta')).code).toBe(0)
  expect(commander.hooks.turns).toHaveLength(1)
}, 30_000)

test.each([
  ['hooks off', (c: { hooks?: Record<string, unknown> }) => (c.hooks!.enabled = false), 'its hooks are off (hooks.enabled is not true in openclaw.json)'],
  ['no hooks token', (c: { hooks?: Record<string, unknown> }) => delete c.hooks!.token, 'its hooks have no token (hooks.token in openclaw.json; the gateway token does not open hooks)'],
])('%s: nothing is sent, the notice waits with a reason', async (_label, edit, reason) => {
  editConfig(edit)
  const result = await watch('delta')
  expect(result.code).toBe(1)
  expect(result.stderr).toContain(`FAILED for good (not retried): commander molt commander: ${reason}`)
  expect(commander.requests).toEqual([])
})

test('email and webhook together: each channel is delivered once', async () => {
  const result = await runCli(['molt', 'health', 'watch', 'delta', '-d', fleet.baseDir, '--consecutive-failures', '1', '--notify-molt', 'commander', '--alert-email', 'ops@example.org', '--mailer', 'smtp', '--json'], { env: { CLMNT_SMTP_URL: 'smtp://127.0.0.1:1' } })
  expect(result.code).toBe(1)
  expect(JSON.parse(result.stdout).notices[0]).toMatchObject({ delivered: ['webhook'], pending: true })
  expect((await runCli(['molt', 'health', 'watch', 'delta', '-d', fleet.baseDir, '--consecutive-failures', '1', '--notify-molt', 'commander'])).code).toBe(0)
  expect(commander.requests).toHaveLength(1)
})
