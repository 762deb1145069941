import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { historyFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, writeConfig } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// A silence over an outage: the checks are recorded, no notice goes out, one summary at the end.
const MSMTP = ['/usr/bin/msmtp', '/usr/local/bin/msmtp'].find((p) => existsSync(p))
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
let rc: string
const cli = (args: string[]) => runCli([...args, '-d', fleet.baseDir])
const watch = (name: string) =>
  cli(['molt', 'health', 'watch', name, '--timeout', '2000', '--consecutive-failures', '1', '--alert-email', 'ops@example.org', '--msmtp-config', rc, '--digest-wait', '0s'])

beforeAll(async () => {
  fleet = await buildFleet([{ name: 'delta', mode: 'healthy' }, { name: 'kilo', mode: 'healthy' }])
  writeConfig(fleet.baseDir)
  sink = await startSmtpSink()
  rc = sink.msmtprc(fleet.baseDir, 'clmnt@example.org')
})
afterAll(async () => {
  fleet.cleanup()
  await sink.close()
})

test.skipIf(!MSMTP)('silence → outage → recovery: checks recorded, no notice; --end → one summary, sent once', async () => {
  const delta = fleet.molts.find((m) => m.name === 'delta')!
  expect((await watch('delta')).code).toBe(0)
  const silenced = await cli(['molt', 'health', 'silence', 'delta', '2h', '--reason', 'gateway upgrade'])
  expect(silenced.code).toBe(0)
  expect(silenced.stdout).toMatch(/^silenced molt delta until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(2h\): gateway upgrade\n/)

  const status = await cli(['molt', 'health', 'status', 'delta'])
  expect(status.stdout).toMatch(/silenced +until .* left\): gateway upgrade; 0 notice\(s\) held/)
  const table = await cli(['molt', 'health', 'status', '--all'])
  expect(table.stdout).toContain('healthy (silenced)')

  // the outage, then the recovery, all under the silence
  await fleet.crash('delta')
  const down = await watch('delta')
  expect(down.code).toBe(0)
  await fleet.restart('delta')
  expect((await watch('delta')).code).toBe(0)
  expect(sink.messages).toHaveLength(0)
  const history = readFileSync(historyFile(delta.home), 'utf8').trim().split('\n').map((l) => JSON.parse(l).status)
  expect(history.slice(-3)).toEqual(['healthy', 'dead', 'healthy'])
  const log = readFileSync(join(delta.home, '.molt-state', 'health.log'), 'utf8')
  expect(log).toContain(': held down notice')
  expect(log).toContain(': held recovered notice')

  const listed = await cli(['molt', 'health', 'silence', '--list'])
  expect(listed.stdout).toMatch(/delta +active .* 2 +gateway upgrade/)

  const ended = await cli(['molt', 'health', 'silence', 'delta', '--end'])
  expect(ended.code).toBe(0)
  expect(ended.stdout).toContain('2 notice(s) held')
  // whatever runs next sends the summary: here the watch of another molt
  expect((await watch('kilo')).code).toBe(0)
  expect(sink.messages).toHaveLength(1)
  const summary = sink.messages[0]!
  expect(summary.headers.subject).toBe('[Claw Mountain] silence on molt delta over: 2 notice(s) held; delta is up')
  expect(summary.body).toContain('Reason: gateway upgrade')
  expect(summary.body).toMatch(/ {2}\d{4}-\d\d-\d\d \d\d:\d\d UTC {2}molt delta is DOWN \(dead\)/)
  expect(summary.body).toMatch(/ {2}\d{4}-\d\d-\d\d \d\d:\d\d UTC {2}molt delta is UP again/)
  expect(summary.body).toContain(`-d ${fleet.baseDir} molt health status --all`)
  // once
  expect((await watch('delta')).code).toBe(0)
  expect((await watch('kilo')).code).toBe(0)
  expect(sink.messages).toHaveLength(1)
  expect((await cli(['molt', 'health', 'silence', '--list'])).stdout).toMatch(/delta +ended/)
}, 60_000)

test('bad silences are usage errors', async () => {
  const cases: [string[], string][] = [
    [['delta'], 'missing duration'],
    [['delta', 'soon'], 'invalid value "soon"'],
    [['delta', '31d'], 'longer than 30d'],
    [['nosuch', '1h'], 'nosuch'],
    [['--all', 'delta', '1h'], 'not both'],
    [['--list', 'delta'], '--list takes no molt'],
  ]
  for (const [args, message] of cases) {
    const result = await cli(['molt', 'health', 'silence', ...args])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
  }
  const none = await cli(['molt', 'health', 'silence', 'kilo', '--end'])
  expect(none.code).toBe(1)
  expect(none.stderr).toContain('no active silence on molt kilo')
}, 60_000)

test.skipIf(!MSMTP)('the rate limit: a second outage within the hour sends nothing, and the run log says so', async () => {
  const before = sink.messages.length
  const rated = (name: string) => cli(['molt', 'health', 'watch', name, '--timeout', '2000', '--consecutive-failures', '1', '--alert-email', 'ops@example.org', '--msmtp-config', rc, '--digest-wait', 'off', '--rate-limit', '1/1h'])
  await fleet.crash('kilo')
  expect((await rated('kilo')).code).toBe(0)
  await fleet.restart('kilo')
  expect((await rated('kilo')).code).toBe(0)
  expect(sink.messages.slice(before).map((m) => m.headers.subject)).toEqual(['[Claw Mountain] molt kilo is DOWN (dead)', '[Claw Mountain] molt kilo is UP again after ' + sink.messages.at(-1)!.headers.subject!.split('after ')[1]])
  await fleet.crash('kilo')
  expect((await rated('kilo')).code).toBe(0)
  expect(sink.messages.length).toBe(before + 2)
  const log = readFileSync(join(fleet.baseDir, 'kilo', '.molt-state', 'health.log'), 'utf8')
  expect(log).toContain('rate limit: held back down notice (counted in the next one)')
  const bad = await cli(['molt', 'health', 'watch', 'kilo', '--rate-limit', 'lots'])
  expect(bad.code).toBe(2)
  expect(bad.stderr).toContain('invalid value "lots" for --rate-limit')
}, 60_000)

test('fleet restore silences the molts it restores (30m by default; --silence 2h, off)', async () => {
  const source = (await import('../helpers/fleet.ts')).tempDir()
  const { createDemoFleet } = await import('../../src/demo/fleet.ts')
  const demo = await createDemoFleet(source, [{ name: 'mike', mode: 'stopped' }, { name: 'november', mode: 'stopped' }])
  const archive = join(source, 'fleet.tar.gz')
  expect((await runCli(['fleet', 'backup', '-d', source, '--output', archive, '-q'], { timeoutMs: 60_000 })).code).toBe(0)
  const target = (await import('../helpers/fleet.ts')).tempDir()
  const restored = await runCli(['fleet', 'restore', '-d', target, '--from', archive, '--yes', '--skip-users', '--skip-cron', '--select', 'mike'], { timeoutMs: 60_000 })
  expect(restored.code).toBe(0)
  expect(restored.stderr + restored.stdout).toContain('silenced the alerts of 1 molt(s) for 30m')
  const listed = JSON.parse((await runCli(['molt', 'health', 'silence', '--list', '--json', '-d', target])).stdout)
  expect(listed).toHaveLength(1)
  expect(listed[0]).toMatchObject({ target: 'mike', state: 'active', reason: 'fleet restore from fleet.tar.gz' })
  expect(Date.parse(listed[0].end) - Date.parse(listed[0].start)).toBe(30 * 60_000)
  const off = await runCli(['fleet', 'restore', '-d', target, '--from', archive, '--yes', '--skip-users', '--skip-cron', '--select', 'november', '--silence', 'off'], { timeoutMs: 60_000 })
  expect(off.code).toBe(0)
  expect(JSON.parse((await runCli(['molt', 'health', 'silence', '--list', '--json', '-d', target])).stdout)).toHaveLength(1)
  const bad = await runCli(['fleet', 'restore', '-d', target, '--from', archive, '--yes', '--silence', 'soon'])
  expect(bad.code).toBe(2)
  await demo.stop()
}, 120_000)
