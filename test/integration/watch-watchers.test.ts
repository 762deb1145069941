import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, utimesSync } from 'node:fs'
import { watchStateFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, writeConfig } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// Cron stopped for one molt (its watch state untouched for 20 minutes, set by its mtime, no
// sleeping): the next watch of another molt sends ONE "watcher stopped" notice; its return, one more.
const MSMTP = ['/usr/bin/msmtp', '/usr/local/bin/msmtp'].find((p) => existsSync(p))
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
let rc: string
const watch = (name: string) =>
  runCli(['molt', 'health', 'watch', name, '-d', fleet.baseDir, '--timeout', '2000', '--interval', '5m', '--alert-email', 'ops@example.org', '--msmtp-config', rc, '--digest-wait', '0s'])

beforeAll(async () => {
  fleet = await buildFleet([{ name: 'alpha', mode: 'healthy' }, { name: 'bravo', mode: 'healthy' }])
  writeConfig(fleet.baseDir)
  sink = await startSmtpSink()
  rc = sink.msmtprc(fleet.baseDir, 'clmnt@example.org')
})
afterAll(async () => {
  fleet.cleanup()
  await sink.close()
})

test.skipIf(!MSMTP)('no watch run for 3 intervals → exactly one "watcher stopped" notice, sent by another molt\'s watch; one when it runs again', async () => {
  expect((await watch('alpha')).code).toBe(0)
  expect((await watch('bravo')).code).toBe(0)
  expect(sink.messages).toHaveLength(0)
  const past = (Date.now() - 20 * 60_000) / 1000
  utimesSync(watchStateFile(fleet.molts.find((m) => m.name === 'alpha')!.home), past, past)
  expect((await watch('bravo')).code).toBe(0)
  expect((await watch('bravo')).code).toBe(0)
  expect(sink.messages).toHaveLength(1)
  expect(sink.messages[0]!.headers.subject).toMatch(/^\[Claw Mountain\] watcher stopped on [a-z0-9.-]+: no watch run for 3 intervals \(alpha\)$/)
  expect(sink.messages[0]!.body).toMatch(/alpha: last watch run \d{4}-\d\d-\d\d \d\d:\d\d UTC \(every 5 min\)/)
  expect(sink.messages[0]!.body).toContain(`-d ${fleet.baseDir} molt health setup alpha --status`)
  expect((await watch('alpha')).code).toBe(0)
  expect(sink.messages).toHaveLength(2)
  expect(sink.messages[1]!.headers.subject).toMatch(/watch runs again on .*: alpha$/)
  expect((await watch('bravo')).code).toBe(0)
  expect(sink.messages).toHaveLength(2)
}, 60_000)
