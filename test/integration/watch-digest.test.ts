import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { alertsDir, openAlertsDir } from '../../src/alert/alerts-dir.ts'
import { statusFile } from '../../src/health/paths.ts'
import { tryLock } from '../../src/lib/lock.ts'
import { runCli } from '../helpers/cli.ts'
import { startCommander, type FakeCommander } from '../helpers/commander.ts'
import { buildFleet, writeConfig } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// A storm: 20 molts fail at once, each watch a separate process (as cron runs them). Their
// notices meet in the fleet outbox and go out as one digest per channel: real msmtp into a real
// SMTP server, and one agent turn on the commander's gateway.
const MSMTP = ['/usr/bin/msmtp', '/usr/local/bin/msmtp'].find((p) => existsSync(p))
const DOWN = Array.from({ length: 20 }, (_, i) => `storm${String(i + 1).padStart(2, '0')}`)
const UP = ['calm1', 'calm2', 'calm3', 'calm4']
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
let commander: FakeCommander
let rc: string
const home = (name: string) => join(fleet.baseDir, name)
const watch = (name: string, wait = '10s') =>
  runCli(['molt', 'health', 'watch', name, '-d', fleet.baseDir, '--timeout', '2000', '--consecutive-failures', '1', '--alert-email', 'ops@example.org', '--msmtp-config', rc, '--notify-molt', 'commander', '--digest-wait', wait], { timeoutMs: 280_000 })
const status = (name: string) => (existsSync(statusFile(home(name))) ? JSON.parse(readFileSync(statusFile(home(name)), 'utf8')).status : null)

/**
 * Start every watch at once, as cron would at 03:02, holding the outbox lock until each has
 * checked its molt: the window then opens with all of them waiting, however slow this machine is.
 */
async function storm(names: string[], expected: string) {
  for (const n of names) rmSync(statusFile(home(n)), { force: true })
  const opened = openAlertsDir(fleet.baseDir)
  if ('error' in opened) throw new Error(opened.error)
  const lock = tryLock(join(opened.dir, 'outbox.json.lock'), 'test')
  if (!lock.ok) throw new Error('outbox locked')
  const runs = names.map((n) => watch(n))
  for (let i = 0; i < 4000 && !names.every((n) => status(n) === expected); i++) await Bun.sleep(50)
  lock.lock.release()
  return Promise.all(runs)
}

beforeAll(async () => {
  fleet = await buildFleet([...DOWN.map((name) => ({ name, mode: 'dead' as const })), ...UP.map((name) => ({ name, mode: 'healthy' as const }))])
  writeConfig(fleet.baseDir)
  sink = await startSmtpSink()
  rc = sink.msmtprc(fleet.baseDir, 'clmnt@example.org')
  commander = startCommander(fleet.baseDir)
}, 60_000)
afterAll(async () => {
  commander.stop()
  fleet.cleanup()
  await sink.close()
})

test.skipIf(!MSMTP)('20 molts down at once: one digest per channel, then one "UP again" digest threaded under it', async () => {
  const results = await storm(DOWN, 'dead')
  for (const r of results) expect(r.code).toBe(0)
  expect(sink.messages).toHaveLength(1)
  const mail = sink.messages[0]!
  expect(mail.headers.subject).toMatch(/^\[Claw Mountain\] 20 of 25 molts DOWN since \d\d:\d\d UTC: storm01, storm02, storm03, storm04, storm05, storm06 and 14 more$/)
  expect(mail.headers['message-id']).toMatch(/^<clmnt\.digest\.\d{8}T\d{9}Z\.email@[a-z0-9.-]+>$/)
  expect(mail.headers['x-clmnt-digest']).toBe('20')
  expect(mail.envelope.to).toEqual(['ops@example.org'])
  for (const name of DOWN) {
    expect(mail.body).toContain(`  ${name} is DOWN (dead): PID `)
    expect(mail.body).toContain(`[Claw Mountain] molt ${name} is DOWN (dead) ===`)
    expect(mail.body).toContain(`molt health logs ${name}`)
  }
  expect(mail.body).toContain('This digest groups 20 notices')
  expect(commander.requests).toHaveLength(1)
  const turn = commander.requests[0]!.body as { name: string; message: string }
  expect(turn.name).toBe('clmnt health: digest of 20 notices')
  expect(turn.message).toStartWith('[Claw Mountain] 20 of 25 molts DOWN since ')
  // the next runs of the still-down molts send nothing more
  expect((await watch('storm01')).code).toBe(0)
  expect(sink.messages).toHaveLength(1)

  // they come back together: one UP digest per channel, in the DOWN digest's thread
  for (const name of DOWN) await fleet.restart(name)
  // no lock held this time: the window stays open while their notices keep coming (a quiet minute closes it)
  const back = await Promise.all(DOWN.map((n) => watch(n, '60s')))
  for (const r of back) expect(r.code).toBe(0)
  expect(sink.messages).toHaveLength(2)
  const up = sink.messages[1]!
  expect(up.headers.subject).toBe('[Claw Mountain] 20 molts UP again: storm01, storm02, storm03, storm04, storm05, storm06 and 14 more; all 25 molts up')
  expect(up.headers['in-reply-to']).toBe(mail.headers['message-id'])
  expect(commander.requests).toHaveLength(2)
}, 560_000)

test.skipIf(!MSMTP)('a lone alert goes out as itself after the wait, with its own Message-ID', async () => {
  const name = 'calm1'
  await fleet.crash(name)
  const before = sink.messages.length
  const result = await watch(name, '1s')
  expect(result.code).toBe(0)
  expect(sink.messages).toHaveLength(before + 1)
  const mail = sink.messages.at(-1)!
  expect(mail.headers.subject).toBe('[Claw Mountain] molt calm1 is DOWN (dead)')
  expect(mail.headers['message-id']).toMatch(/^<clmnt\.calm1\.down\.\d{8}T\d{9}Z@/)
  expect(JSON.parse(readFileSync(join(alertsDir(fleet.baseDir), 'outbox.json'), 'utf8')).entries).toEqual([])
}, 60_000)

test('a bad --digest-wait is a usage error', async () => {
  const result = await runCli(['molt', 'health', 'watch', 'calm2', '-d', fleet.baseDir, '--digest-wait', '11m'])
  expect(result.code).toBe(2)
  expect(result.stderr).toContain('invalid value "11m" for --digest-wait')
  writeConfig(fleet.baseDir, { digest_wait: 'soon' })
  try {
    const bad = await runCli(['molt', 'health', 'watch', 'calm2', '-d', fleet.baseDir], { env: { CLMNT_DIGEST_WAIT: '' } })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('digest_wait')
  } finally {
    writeConfig(fleet.baseDir)
  }
})
