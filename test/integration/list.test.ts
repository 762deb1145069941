import { afterAll, beforeAll, expect, test } from 'bun:test'
import { runCli } from '../helpers/cli.ts'
import { buildFleet } from '../helpers/fleet.ts'

let fleet: Awaited<ReturnType<typeof buildFleet>>
beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'delta', mode: 'dead' },
    { name: 'echo', mode: 'stopped' },
  ])
})
afterAll(() => fleet.cleanup())

test('molt list: name, port, home, gateway state, PID, last health and its age', async () => {
  await runCli(['molt', 'health', 'check', 'alpha', '-d', fleet.baseDir])
  const json = await runCli(['molt', 'list', '--json', '-d', fleet.baseDir])
  expect(json.code).toBe(0)
  const [alpha, delta, echo] = fleet.molts
  expect(JSON.parse(json.stdout)).toEqual([
    { name: 'alpha', port: alpha!.port, port_source: 'molt-info', home: alpha!.home, gateway: 'running', pid: alpha!.pid, health: 'healthy', checked_at: expect.any(String), age_seconds: expect.any(Number) },
    { name: 'delta', port: delta!.port, port_source: 'molt-info', home: delta!.home, gateway: 'stale PID', pid: delta!.pid, health: null, checked_at: null, age_seconds: null },
    { name: 'echo', port: echo!.port, port_source: 'molt-info', home: echo!.home, gateway: 'stopped', pid: null, health: null, checked_at: null, age_seconds: null },
  ])
  const table = await runCli(['molt', 'list', '-d', fleet.baseDir])
  const rows = table.stdout.trim().split('\n').map((r) => r.split(/\s{2,}/))
  expect(rows[0]).toEqual(['MOLT', 'STATUS', 'PORT', 'PID', 'GATEWAY', 'CHECKED', 'HOME'])
  // checked a moment ago: 'just now' under a second, '2s ago' when the two CLIs between took longer (a loaded host)
  expect(rows[1]).toEqual(['alpha', 'healthy', String(alpha!.port), String(alpha!.pid), 'running', expect.stringMatching(/^(just now|\d+s ago)$/), alpha!.home])
  expect(rows[2]!.slice(0, 5)).toEqual(['delta', '-', String(delta!.port), String(delta!.pid), 'stale PID'])
})

test('an empty base dir lists nothing, with a note on stderr', async () => {
  const result = await runCli(['molt', 'list', '-d', `${fleet.baseDir}/alpha/.openclaw`])
  expect(result).toMatchObject({ code: 0, stdout: '' })
  expect(result.stderr).toContain('no molts in')
})
