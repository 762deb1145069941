import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.ts'
import { createDemoFleet, type DemoFleet } from '../../src/demo/fleet.ts'
import { tempDir } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// Host checks: the fleet on a 4 MiB tmpfs; filled up, the watches of both molts send ONE host alert.
const ROOT = process.getuid?.() === 0
const MSMTP = ['/usr/bin/msmtp', '/usr/local/bin/msmtp'].find((p) => existsSync(p))
let mount = ''
let fleet: DemoFleet | null = null
let sink: SmtpSink
let rc: string
const watch = (name: string) =>
  runCli(['molt', 'health', 'watch', name, '-d', mount, '--timeout', '2000', '--alert-email', 'ops@example.org', '--msmtp-config', rc, '--digest-wait', '0s'])

beforeAll(async () => {
  sink = await startSmtpSink()
  rc = sink.msmtprc(tempDir(), 'clmnt@example.org')
  if (!ROOT) return
  mount = tempDir('clmnt-tmpfs-')
  const mounted = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount])
  if (mounted.exitCode !== 0) {
    mount = ''
    return
  }
  fleet = await createDemoFleet(mount, [{ name: 'alpha', mode: 'healthy' }, { name: 'bravo', mode: 'healthy' }])
})
afterAll(async () => {
  await fleet?.stop()
  if (mount) Bun.spawnSync(['umount', '-l', mount])
  await sink.close()
})

// needs root for mount -t tmpfs (and msmtp): skipped otherwise, as the message says
test.skipIf(!ROOT || !MSMTP)('disk filled on a small tmpfs → one host alert for the host (not one per molt); one notice when it clears', async () => {
  expect(mount).not.toBe('')
  expect((await watch('alpha')).code).toBe(0)
  expect(sink.messages).toHaveLength(0)
  // fill it to ~97 %
  const filler = join(mount, 'filler')
  writeFileSync(filler, Buffer.alloc(Math.floor(3.85 * 1024 * 1024)))
  const a = await watch('alpha')
  const b = await watch('bravo')
  expect([a.code, b.code]).toEqual([0, 0])
  expect(sink.messages).toHaveLength(1)
  const mail = sink.messages[0]!
  expect(mail.headers.subject).toMatch(new RegExp(`^\\[Claw Mountain\\] host [a-z0-9.-]+: disk of ${mount.replaceAll('/', '\\/')} (9\\d|100)% full \\(\\d\\.\\d% free\\)$`))
  expect(mail.body).toContain('doctor')
  expect(readFileSync(join(mount, 'alpha', '.molt-state', 'health.log'), 'utf8')).toContain('host notice: [Claw Mountain] host ')
  // the checks go on: still one
  expect((await watch('alpha')).code).toBe(0)
  expect(sink.messages).toHaveLength(1)
  // doctor says it too
  const doctor = await runCli(['doctor', '-d', mount, '--json'], { timeoutMs: 60_000 })
  const disk = (JSON.parse(doctor.stdout).checks as { id: string; level: string; detail: string }[]).find((c) => c.id === 'host.disk-free')
  expect(disk).toMatchObject({ level: 'warn', detail: expect.stringMatching(/^disk of .* (9\d|100)% full/) })
  rmSync(filler)
  expect((await watch('bravo')).code).toBe(0)
  expect(sink.messages).toHaveLength(2)
  expect(sink.messages[1]!.headers.subject).toMatch(/: OK again \(disk of .* cleared\)$/)
}, 60_000)

test('host_checks in clmnt.json: false, or limits; anything else is refused', async () => {
  const dir = tempDir()
  mkdirSync(join(dir, 'alpha'))
  writeFileSync(join(dir, 'alpha', '.molt-info'), 'MOLT_NAME=alpha\nMOLT_PORT=1\n')
  writeFileSync(join(dir, 'clmnt.json'), JSON.stringify({ host_checks: { disk_free_min_percent: 'ten' } }))
  const bad = await runCli(['molt', 'health', 'watch', 'alpha', '-d', dir])
  expect(bad.code).toBe(2)
  expect(bad.stderr).toContain('host_checks')
})
