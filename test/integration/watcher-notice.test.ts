import { afterAll, beforeAll, expect, test } from 'bun:test'
import { utimesSync } from 'node:fs'
import { notifyStoppedWatchers } from '../../src/doctor/watcher-notice.ts'
import type { DoctorReport } from '../../src/doctor/types.ts'
import { readFleetConfig } from '../../src/fleet/config.ts'
import { watchStateFile } from '../../src/health/paths.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { buildFleet, writeConfig } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// Who watches the watcher when cron stopped: the dashboard (while it runs) and doctor look as a
// watch run does, and whichever sees a stopped watch first sends the ONE "watcher stopped" notice
// through clmnt.json's channels (a real SMTP server on loopback); the others, and the next watch,
// send nothing more. Watch states are aged by their mtime, no sleeping.

let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
const TOKEN = 'watcher-notice-token-0123456789-abcdefghij'
const watch = (name: string) => runCli(['molt', 'health', 'watch', name, '-d', fleet.baseDir, '--timeout', '2000', '--interval', '5m'])
const doctor = async () => {
  const r = await runCli(['doctor', '--json', '-d', fleet.baseDir, '--timeout', '1500'], { timeoutMs: 60_000 })
  return (JSON.parse(r.stdout) as DoctorReport).checks.find((c) => c.id === 'monitoring.watchers')!
}
const age = (name: string, minutes: number) => {
  const past = (Date.now() - minutes * 60_000) / 1000
  utimesSync(watchStateFile(fleet.molts.find((m) => m.name === name)!.home), past, past)
}
const subjects = () => sink.messages.map((m) => m.headers.subject)

beforeAll(async () => {
  fleet = await buildFleet([{ name: 'alpha', mode: 'healthy' }, { name: 'bravo', mode: 'healthy' }, { name: 'charlie', mode: 'healthy' }])
  sink = await startSmtpSink()
  writeConfig(fleet.baseDir, { alert_emails: ['ops@example.org'], mailer: 'smtp', smtp_url: sink.url(), from: 'clmnt@example.org', digest_wait: '0s' }, 0o600)
  for (const name of ['alpha', 'bravo', 'charlie']) expect((await watch(name)).code).toBe(0)
}, 60_000)
afterAll(async () => {
  fleet?.cleanup()
  await sink?.close()
})

test('the dashboard sends the notice while it runs; doctor and the next watch find it sent', async () => {
  expect(sink.messages).toHaveLength(0)
  age('alpha', 20)
  const proc = Bun.spawn([process.execPath, CLI, 'dashboard', '--port', '0', '-d', fleet.baseDir], { env: { ...process.env, NO_COLOR: '1', CLMNT_DASHBOARD_TOKEN: TOKEN }, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const stderr = new Response(proc.stderr).text()
  try {
    // its first look is at the start; the message arrives when the SMTP server took it
    while (sink.messages.length === 0 && proc.exitCode === null) await Bun.sleep(100)
    expect(subjects()).toHaveLength(1)
    expect(subjects()[0]).toMatch(/^\[Claw Mountain\] watcher stopped on [a-z0-9.-]+: no watch run for 3 intervals \(alpha\)$/)
    expect(sink.messages[0]!.body).toMatch(/alpha: last watch run \d{4}-\d\d-\d\d \d\d:\d\d UTC \(every 5 min\)/)
    // the red banner says the same
    const molts = await (await fetch(new URL('/api/molts', (await firstLine(proc)).trim()), { headers: { Authorization: `Bearer ${TOKEN}` } })).json()
    expect(molts.alerts[0]).toMatchObject({ kind: 'watcher-stopped', molts: ['alpha'] })
    const found = await doctor()
    expect(found.level).toBe('fail')
    expect(found.detail).toMatch(/^no watch run for 3 intervals: alpha \(last .* UTC, every 5 min\); "watcher stopped" notice already sent/)
    expect((await watch('bravo')).code).toBe(0)
    expect(subjects()).toHaveLength(1)
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
  }
  expect(await stderr).toContain('dashboard: sent "[Claw Mountain] watcher stopped on')
  // alpha's watch runs again: one "runs again", from that watch, and doctor is content
  expect((await watch('alpha')).code).toBe(0)
  expect(subjects()).toHaveLength(2)
  expect(subjects()[1]).toMatch(/watch runs again on .*: alpha$/)
  expect((await doctor()).level).toBe('ok')
  expect(subjects()).toHaveLength(2)
}, 120_000)

test('doctor sends it when nothing else did; the dashboard\'s next look and the next watch send nothing more', async () => {
  const before = sink.messages.length
  age('charlie', 30)
  const found = await doctor()
  expect(found.level).toBe('fail')
  expect(found.detail).toMatch(/charlie .*; "watcher stopped" notice sent now$/)
  expect(subjects().slice(before)).toHaveLength(1)
  expect(subjects().at(-1)).toMatch(/watcher stopped .*\(charlie\)$/)
  // what the dashboard's watchdog does once a minute
  const config = readFleetConfig(fleet.baseDir).config
  const look = await notifyStoppedWatchers({ baseDir: fleet.baseDir, config, now: Date.now, waitMs: 0, budgetMs: 30_000, stderr: () => {} })
  expect(look).toMatchObject({ changes: null, subject: null, problems: [] })
  expect((await doctor()).detail).toMatch(/notice already sent/)
  expect((await watch('alpha')).code).toBe(0)
  expect(subjects().slice(before)).toHaveLength(1)
}, 120_000)

async function firstLine(proc: ReturnType<typeof Bun.spawn>): Promise<string> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  let out = ''
  while (!out.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) break
    out += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return out
}
